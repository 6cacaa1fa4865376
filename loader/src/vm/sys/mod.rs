//! Operating-system code. Only Unix-like systems (Linux) are supported.

pub(crate) mod unix;
