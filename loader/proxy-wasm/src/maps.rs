//! Header maps and their wire format: a little-endian `u32` count, then a
//! `u32` name length and a `u32` value length per pair, then each name and
//! value followed by a NUL byte.

/// An ordered multi-map of HTTP headers (or trailers). Names are compared
/// without regard to ASCII case (and kept in lower case); values are
/// bytes. HTTP/2-style pseudo headers (`:method`, `:path`, `:authority`,
/// `:scheme` in requests, `:status` in responses) are entries like any
/// other.
///
/// The names and the values each live in one buffer, so a map costs three
/// allocations however many pairs it holds, and cloning one into a buffer
/// that has room costs none: a filter's maps go to the guest and come
/// back at every phase of every request.
#[derive(Default, PartialEq, Eq)]
pub struct HeaderMap {
    /// The names, back to back, in order.
    names: String,
    /// The values, back to back, in order.
    values: Vec<u8>,
    /// Where each pair's name and value end in `names` and `values` (each
    /// starts where the previous pair's ends): no gaps, so equal maps have
    /// equal buffers.
    ends: Vec<PairEnd>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PairEnd {
    name: usize,
    value: usize,
}

impl Clone for HeaderMap {
    fn clone(&self) -> HeaderMap {
        HeaderMap { names: self.names.clone(), values: self.values.clone(), ends: self.ends.clone() }
    }

    /// Reuses this map's buffers.
    fn clone_from(&mut self, source: &HeaderMap) {
        self.names.clone_from(&source.names);
        self.values.clone_from(&source.values);
        self.ends.clone_from(&source.ends);
    }
}

/// Appends each pair, in order (as [`HeaderMap::append`]).
impl<N: AsRef<str>, V: AsRef<[u8]>> Extend<(N, V)> for HeaderMap {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, pairs: I) {
        for (name, value) in pairs {
            self.append(name, value);
        }
    }
}

impl std::fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(|(name, value)| (name, String::from_utf8_lossy(value)))).finish()
    }
}

/// The serialized size of one pair: its two lengths and two NUL bytes.
const PAIR_OVERHEAD: usize = 8 + 2;

impl HeaderMap {
    /// An empty map.
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    /// A map of these pairs, in order.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (N, V)>) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.extend(pairs);
        map
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The first value of `name` as text (`None` if absent or not UTF-8).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// Adds a pair after the others, keeping existing values of `name`.
    pub fn append(&mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) {
        let start = self.names.len();
        self.names.push_str(name.as_ref());
        self.names[start..].make_ascii_lowercase();
        self.values.extend_from_slice(value.as_ref());
        self.ends.push(PairEnd { name: self.names.len(), value: self.values.len() });
    }

    /// Replaces every value of `name` with `value` (in the place of the
    /// first one, or at the end).
    pub fn insert(&mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) {
        let (name, value) = (name.as_ref(), value.as_ref());
        if self.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            self.rebuild(name, Some(value));
        } else {
            self.append(name, value);
        }
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        if self.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            self.rebuild(name, None);
        }
    }

    /// Drops the pairs named `name`, but for the first of them when there
    /// is a `replacement`, which becomes its value. In place: the buffers
    /// keep their capacity, and a map the size of a request head has few
    /// pairs to move.
    fn rebuild(&mut self, name: &str, mut replacement: Option<&[u8]>) {
        let mut i = 0;
        while i < self.ends.len() {
            let (name_start, value_start) = self.starts(i);
            let PairEnd { name: name_end, value: value_end } = self.ends[i];
            if !self.names[name_start..name_end].eq_ignore_ascii_case(name) {
                i += 1;
                continue;
            }
            let (names_removed, new_value) = match replacement.take() {
                Some(value) => (0, value),
                None => {
                    self.names.drain(name_start..name_end);
                    self.ends.remove(i);
                    (name_end - name_start, &[][..])
                }
            };
            self.values.splice(value_start..value_end, new_value.iter().copied());
            let first_after = if names_removed == 0 { i + 1 } else { i };
            for end in &mut self.ends[first_after..] {
                end.name -= names_removed;
                end.value = end.value - (value_end - value_start) + new_value.len();
            }
            if names_removed == 0 {
                self.ends[i].value = value_start + new_value.len();
                i += 1;
            }
        }
    }

    /// Where pair `i`'s name and value start in `names` and `values`.
    fn starts(&self, i: usize) -> (usize, usize) {
        match i.checked_sub(1).map(|p| self.ends[p]) {
            Some(PairEnd { name, value }) => (name, value),
            None => (0, 0),
        }
    }

    /// Empties the map, keeping its buffers' capacity.
    pub(crate) fn clear(&mut self) {
        self.names.clear();
        self.values.clear();
        self.ends.clear();
    }

    /// Bytes the map's buffers hold.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.names.capacity() + self.values.capacity() + self.ends.capacity() * std::mem::size_of::<PairEnd>()
    }

    /// The size of the serialized form, in bytes.
    pub fn serialized_len(&self) -> usize {
        4 + self.ends.len() * PAIR_OVERHEAD + self.names.len() + self.values.len()
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let mut start = PairEnd::default();
        self.ends.iter().map(move |&end| {
            let pair = (&self.names[start.name..end.name], &self.values[start.value..end.value]);
            start = end;
            pair
        })
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The ABI's serialized form.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.serialize_into(&mut out);
        out
    }

    /// The ABI's serialized form, in `out` (emptied first; its buffer is
    /// reused).
    pub(crate) fn serialize_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.serialized_len());
        out.extend_from_slice(&len32(self.len()).to_le_bytes());
        for (name, value) in self.iter() {
            out.extend_from_slice(&len32(name.len()).to_le_bytes());
            out.extend_from_slice(&len32(value.len()).to_le_bytes());
        }
        for (name, value) in self.iter() {
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(value);
            out.push(0);
        }
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
        if count > bytes.len() / PAIR_OVERHEAD {
            return None;
        }
        let mut data = 4 + count * 8;
        let mut map = HeaderMap { names: String::new(), values: Vec::new(), ends: Vec::with_capacity(count) };
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

    /// A map that went through many appends, replacements and removals
    /// (names in any case, empty and non-UTF-8 values) holds what a plain
    /// list of pairs would, and serializes, clones and compares as one.
    #[test]
    fn behaves_as_a_list_of_pairs() {
        let names = ["a", "B", "x-Long-Name", ":path", "b"];
        let values: [&[u8]; 4] = [b"", b"1", b"\xff\x00 value", b"a longer value than the others"];
        let mut map = HeaderMap::new();
        let mut model: Vec<(String, Vec<u8>)> = Vec::new();
        let mut seed = 0x2545_f491_u32;
        for step in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let name = names[seed as usize % names.len()];
            let value = values[(seed >> 8) as usize % values.len()];
            let lower = name.to_ascii_lowercase();
            match (seed >> 16) % 4 {
                0 | 1 => {
                    map.append(name, value);
                    model.push((lower.clone(), value.to_vec()));
                }
                2 => {
                    map.insert(name, value);
                    match model.iter().position(|(n, _)| *n == lower) {
                        Some(first) => {
                            model[first].1 = value.to_vec();
                            let mut i = 0;
                            model.retain(|(n, _)| {
                                i += 1;
                                i - 1 == first || *n != lower
                            });
                        }
                        None => model.push((lower.clone(), value.to_vec())),
                    }
                }
                _ => {
                    map.remove(name);
                    model.retain(|(n, _)| *n != lower);
                }
            }
            let pairs: Vec<(&str, &[u8])> = model.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
            assert_eq!(map.iter().collect::<Vec<_>>(), pairs, "step {step}");
            assert_eq!(map.get(&name.to_ascii_uppercase()), pairs.iter().find(|(n, _)| *n == lower).map(|p| p.1));
            let bytes = map.serialize();
            assert_eq!(bytes.len(), map.serialized_len());
            assert_eq!(HeaderMap::deserialize(&bytes).as_ref(), Some(&map));
            let mut reused = HeaderMap::from_pairs([("stale", "pair")]);
            reused.clone_from(&map);
            assert_eq!(reused, map);
        }
    }
}
