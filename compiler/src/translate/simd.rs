//! Fixed-width SIMD (Wasm 2.0's `v128` operators).

use cranelift_codegen::ir::{self, types, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use wasmparser::Operator;

use super::{Translator, WasmResult};

/// A `v128` constant (as `i8x16`).
pub(super) fn vconst(builder: &mut FunctionBuilder, value: u128) -> ir::Value {
    let handle = builder.func.dfg.constants.insert(value.to_le_bytes().to_vec().into());
    builder.ins().vconst(types::I8X16, handle)
}

impl Translator<'_, '_, '_> {
    /// Translates a SIMD operator; `false` if `op` is not one.
    pub(super) fn simd_operator(&mut self, _op: &Operator<'_>) -> WasmResult<bool> {
        Ok(false)
    }
}
