//! [`OutputBuffer`], an in-memory stdout or stderr for a program whose
//! output the embedder keeps (a response, a log record).

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A program's stdout or stderr kept in memory, up to a capacity: give a
/// clone to [`WasiCtxBuilder::stdout`](super::WasiCtxBuilder::stdout) and
/// read the bytes from the original. Clones share the bytes.
///
/// Bytes past the capacity are refused, never dropped silently: the write
/// that reaches it is short (the program writes what fits) and the next
/// fails with `ENOSPC`, so a program that writes without end cannot grow
/// the host's memory.
#[derive(Clone, Debug)]
pub struct OutputBuffer {
    bytes: Arc<Mutex<Vec<u8>>>,
    capacity: usize,
}

impl OutputBuffer {
    /// An empty buffer that keeps at most `capacity` bytes (allocated as
    /// they are written).
    pub fn new(capacity: usize) -> OutputBuffer {
        OutputBuffer { bytes: Arc::default(), capacity }
    }

    /// The most bytes it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// A copy of the bytes written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// The bytes written so far, leaving the buffer empty (and its whole
    /// capacity free again).
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.lock())
    }

    /// How many bytes it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // The bytes stay valid if a holder panicked: nothing is left half
        // done under the lock.
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Write for OutputBuffer {
    /// Keeps what fits; `Ok(0)` once full.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = self.lock();
        let fits = buf.len().min(self.capacity.saturating_sub(bytes.len()));
        bytes.extend_from_slice(&buf[..fits]);
        Ok(fits)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_fits_then_refuses() {
        let buffer = OutputBuffer::new(5);
        let mut writer = buffer.clone();
        assert_eq!(writer.write(b"abc").unwrap(), 3);
        assert_eq!(writer.write(b"defg").unwrap(), 2);
        assert_eq!(writer.write(b"h").unwrap(), 0);
        assert_eq!(buffer.contents(), b"abcde");
        assert_eq!(buffer.take(), b"abcde");
        assert!(buffer.is_empty());
        assert_eq!(writer.write(b"xyz").unwrap(), 3);
        assert_eq!(buffer.len(), 3);
    }
}
