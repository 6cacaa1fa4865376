//! Linux: memory mappings, signal handlers, stack bounds and the C unwinder.

pub(crate) mod memfd;
pub(crate) mod mmap;
pub(crate) mod signals;
pub(crate) mod stack;
pub(crate) mod unwind;
