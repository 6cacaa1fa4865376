//! Validation against the WebAssembly 2.0 feature set, plus the Wasm 3.0
//! features the compiler implements.

use wasmparser::{Validator, WasmFeatures};

use crate::CompileError;

/// The features of WebAssembly 2.0, and of Wasm 3.0 its extended constant
/// expressions (`add`, `sub` and `mul` of `i32` and `i64` in global
/// initialisers and segment offsets, as LLVM emits for position-independent
/// code) and tail calls (`return_call`, `return_call_indirect`). Nothing
/// else of 3.0 yet.
///
/// `GC_TYPES` is not a proposal: wasmparser gates `externref` on it (its own
/// `WASM1` set includes it), so Wasm 2.0's reference types need it.
pub(crate) fn features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::SIMD
        | WasmFeatures::FLOATS
        | WasmFeatures::GC_TYPES
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::TAIL_CALL
}

/// A validator for [`features`].
pub(crate) fn validator() -> Validator {
    Validator::new_with_features(features())
}

/// Validates the whole module, function bodies included.
///
/// # Errors
///
/// [`CompileError::Invalid`] with the offset wasmparser reports, for
/// malformed and invalid input alike.
pub(crate) fn validate(wasm: &[u8]) -> Result<(), CompileError> {
    validator().validate_all(wasm)?;
    Ok(())
}
