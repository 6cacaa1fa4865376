//! The guest side of the plugin ABI (loader/plugin-server/README.md):
//! decoding the request and encoding the decision.

/// A request as the server passes it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// What a plugin decides.
pub enum Decision {
    /// Go on, adding these headers to the response.
    Allow(Vec<(String, String)>),
    /// Answer with this status and stop.
    Deny(u16),
}

/// `alloc(len) -> ptr`: the server writes the request there.
pub fn alloc(len: usize) -> *mut u8 {
    let mut buf = Vec::<u8>::with_capacity(len);
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

fn field(bytes: &[u8], at: &mut usize) -> Option<Vec<u8>> {
    let len = u32::from_le_bytes(bytes.get(*at..*at + 4)?.try_into().ok()?) as usize;
    *at += 4;
    let v = bytes.get(*at..*at + len)?.to_vec();
    *at += len;
    Some(v)
}

/// Decodes the request at `ptr`/`len`.
///
/// # Safety
/// `ptr`/`len` must be the buffer the server filled.
pub unsafe fn decode(ptr: *const u8, len: usize) -> Option<Request> {
    // SAFETY: per the contract.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    let mut at = 0;
    let text = |v: Vec<u8>| String::from_utf8(v).ok();
    let method = text(field(bytes, &mut at)?)?;
    let path = text(field(bytes, &mut at)?)?;
    let count = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?);
    at += 4;
    let mut headers = Vec::new();
    for _ in 0..count {
        let name = text(field(bytes, &mut at)?)?;
        let value = text(field(bytes, &mut at)?)?;
        headers.push((name, value));
    }
    Some(Request { method, path, headers })
}

/// Encodes `decision` and returns it packed as `ptr << 32 | len`.
pub fn encode(decision: Decision) -> i64 {
    let mut out = Vec::new();
    let put = |out: &mut Vec<u8>, s: &str| {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    match decision {
        Decision::Allow(headers) => {
            out.push(0);
            out.extend_from_slice(&(headers.len() as u32).to_le_bytes());
            for (n, v) in &headers {
                put(&mut out, n);
                put(&mut out, v);
            }
        }
        Decision::Deny(status) => {
            out.push(1);
            out.extend_from_slice(&status.to_le_bytes());
        }
    }
    let (ptr, len) = (out.as_ptr() as u32, out.len() as u32);
    std::mem::forget(out);
    (i64::from(ptr) << 32) | i64::from(len)
}

/// Defines the exports `alloc` and `on_request` from `filter`.
#[macro_export]
macro_rules! plugin {
    ($filter:expr) => {
        #[no_mangle]
        pub extern "C" fn alloc(len: i32) -> i32 {
            $crate::alloc(len as usize) as i32
        }
        #[no_mangle]
        pub extern "C" fn on_request(ptr: i32, len: i32) -> i64 {
            // SAFETY: the server passes the buffer it filled.
            match unsafe { $crate::decode(ptr as usize as *const u8, len as usize) } {
                Some(req) => $crate::encode($filter(&req)),
                None => $crate::encode($crate::Decision::Deny(400)),
            }
        }
    };
}
