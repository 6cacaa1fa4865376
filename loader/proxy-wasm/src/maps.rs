//! Header maps and their wire format: a little-endian `u32` count, then a
//! `u32` name length and a `u32` value length per pair, then each name and
//! value followed by a NUL byte.

/// An ordered multi-map of HTTP headers (or trailers). Names are compared
/// without regard to ASCII case; values are bytes. HTTP/2-style pseudo
/// headers (`:method`, `:path`, `:authority`, `:scheme` in requests,
/// `:status` in responses) are entries like any other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderMap {
    pairs: Vec<(String, Vec<u8>)>,
    /// The serialized size of the pairs (without the count), kept as
    /// pairs come and go.
    bytes: usize,
}

/// The serialized size of one pair.
fn pair_bytes(name: &str, value: &[u8]) -> usize {
    8 + name.len() + value.len() + 2
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    /// A map of these pairs, in order.
    pub fn from_pairs<N: Into<String>, V: Into<Vec<u8>>>(pairs: impl IntoIterator<Item = (N, V)>) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name, value);
        }
        map
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    /// The first value of `name` as text (`None` if absent or not UTF-8).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.pairs.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    /// Adds a pair after the others, keeping existing values of `name`.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        let mut name = name.into();
        name.make_ascii_lowercase();
        let value = value.into();
        self.bytes += pair_bytes(&name, &value);
        self.pairs.push((name, value));
    }

    /// Replaces every value of `name` with `value` (in the place of the
    /// first one, or at the end).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        let mut name = name.into();
        name.make_ascii_lowercase();
        let value = value.into();
        match self.pairs.iter().position(|(n, _)| *n == name) {
            Some(first) => {
                self.pairs[first].1 = value;
                let mut i = 0;
                self.pairs.retain(|(n, _)| {
                    i += 1;
                    i - 1 == first || *n != name
                });
                self.bytes = self.pairs.iter().map(|(n, v)| pair_bytes(n, v)).sum::<usize>();
            }
            None => {
                self.bytes += pair_bytes(&name, &value);
                self.pairs.push((name, value));
            }
        }
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        self.pairs.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.bytes = self.pairs.iter().map(|(n, v)| pair_bytes(n, v)).sum::<usize>();
    }

    /// The size of the serialized form, in bytes.
    pub fn serialized_len(&self) -> usize {
        4 + self.bytes
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The ABI's serialized form.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.serialized_len());
        out.extend_from_slice(&len32(self.pairs.len()).to_le_bytes());
        for (name, value) in &self.pairs {
            out.extend_from_slice(&len32(name.len()).to_le_bytes());
            out.extend_from_slice(&len32(value.len()).to_le_bytes());
        }
        for (name, value) in &self.pairs {
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(value);
            out.push(0);
        }
        out
    }

    /// Parses the ABI's serialized form; `None` if it is malformed (sizes
    /// past the end, a missing NUL, a name that is not UTF-8). Empty input
    /// is an empty map, as the SDKs send it.
    pub fn deserialize(bytes: &[u8]) -> Option<HeaderMap> {
        if bytes.is_empty() {
            return Some(HeaderMap::new());
        }
        let word = |at: usize| -> Option<usize> {
            let b = bytes.get(at..at.checked_add(4)?)?;
            usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
        };
        let count = word(0)?;
        // Each pair needs at least 10 bytes: refuse counts the input cannot hold.
        if count > bytes.len() / 10 {
            return None;
        }
        let mut data = 4 + count * 8;
        let mut map = HeaderMap::new();
        for i in 0..count {
            let name_len = word(4 + i * 8)?;
            let value_len = word(8 + i * 8)?;
            let name = bytes.get(data..data.checked_add(name_len)?)?;
            data += name_len;
            (bytes.get(data) == Some(&0)).then_some(())?;
            data += 1;
            let value = bytes.get(data..data.checked_add(value_len)?)?;
            data += value_len;
            (bytes.get(data) == Some(&0)).then_some(())?;
            data += 1;
            map.append(std::str::from_utf8(name).ok()?, value);
        }
        Some(map)
    }
}

/// A length the ABI carries in 32 bits. Maps and buffers given to a
/// 32-bit guest are far smaller; a larger one is a host bug.
pub(crate) fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("a length over 4 GiB for a 32-bit guest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialization_round_trips() {
        let map = HeaderMap::from_pairs([(":path", "/a"), ("x-b", ""), ("x-b", "2")]);
        assert_eq!(HeaderMap::deserialize(&map.serialize()), Some(map));
        assert_eq!(HeaderMap::deserialize(&[]), Some(HeaderMap::new()));
    }

    #[test]
    fn malformed_input_is_refused() {
        let good = HeaderMap::from_pairs([("a", "b")]).serialize();
        for cut in 1..good.len() {
            assert_eq!(HeaderMap::deserialize(&good[..cut]), None, "cut at {cut}");
        }
        assert_eq!(HeaderMap::deserialize(&u32::MAX.to_le_bytes()), None);
        let mut no_nul = good.clone();
        no_nul[13] = b'x';
        assert_eq!(HeaderMap::deserialize(&no_nul), None);
    }

    #[test]
    fn insert_replaces_every_value_in_place() {
        let mut map = HeaderMap::from_pairs([("A", "1"), ("b", "2"), ("a", "3")]);
        map.insert("a", "9");
        assert_eq!(map.iter().collect::<Vec<_>>(), [("a", &b"9"[..]), ("b", &b"2"[..])]);
        map.remove("B");
        assert_eq!(map.len(), 1);
        assert_eq!(map.serialized_len(), map.serialize().len());
        map.append("c", "12345");
        assert_eq!(map.serialized_len(), map.serialize().len());
    }
}
