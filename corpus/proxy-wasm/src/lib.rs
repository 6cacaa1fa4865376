//! Nothing shared: each filter in `examples/` is a complete Proxy-Wasm
//! module written against the SDK alone, as a user of Envoy would write it.
//! The misbehaving ones misbehave only on paths starting with `/bad`, so a
//! test can show that the next request through the same filter succeeds.
