//! Fixed-width SIMD: every `v128` operator of WebAssembly 2.0 but the loads
//! and stores (in `memory.rs`).
//!
//! `v128` values are `i8x16` on the operand stack (see the module
//! documentation of `translate`): each operator bitcasts its operands to
//! the lane type it works on and its result back to `i8x16`. Cranelift
//! removes the bitcasts that cancel out. Most operators map to one CLIF
//! instruction whose semantics are wasm's (saturation, shift amounts
//! taken modulo the lane width, NaN and signed-zero rules of min/max).

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32X4, F64X2, I16, I16X8, I32, I32X4, I64X2, I8, I8X16};
use cranelift_codegen::ir::{self, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use wasmparser::Operator;

use super::{Translator, WasmResult};

/// A `v128` constant (as `i8x16`).
pub(super) fn vconst(builder: &mut FunctionBuilder, value: u128) -> ir::Value {
    let handle = builder.func.dfg.constants.insert(value.to_le_bytes().to_vec().into());
    builder.ins().vconst(I8X16, handle)
}

/// Flags of a bitcast between vector types: lanes in little-endian order.
fn lane_order() -> ir::MemFlagsData {
    ir::MemFlagsData::new().with_endianness(ir::Endianness::Little)
}

/// The scalar type a lane of `ty` is passed as on the wasm stack.
fn wasm_lane_type(ty: ir::Type) -> ir::Type {
    match ty.lane_type() {
        I8 | I16 => I32,
        lane => lane,
    }
}

impl Translator<'_, '_, '_> {
    /// `value` as a vector of type `ty`.
    pub(super) fn as_vector(&mut self, value: ir::Value, ty: ir::Type) -> ir::Value {
        if self.builder.func.dfg.value_type(value) == ty {
            value
        } else {
            self.builder.ins().bitcast(ty, lane_order(), value)
        }
    }

    /// Pops a `v128` as a vector of type `ty`.
    pub(super) fn pop_vector(&mut self, ty: ir::Type) -> ir::Value {
        let v = self.pop();
        self.as_vector(v, ty)
    }

    /// Pops two `v128`s as vectors of type `ty`.
    fn pop2_vectors(&mut self, ty: ir::Type) -> (ir::Value, ir::Value) {
        let b = self.pop_vector(ty);
        let a = self.pop_vector(ty);
        (a, b)
    }

    /// Pushes a vector as a `v128`.
    pub(super) fn push_vector(&mut self, value: ir::Value) {
        let v = self.as_vector(value, I8X16);
        self.push(v);
    }

    /// `value` (an `i32` for 8- and 16-bit lanes) as a lane of `ty`.
    fn as_lane(&mut self, value: ir::Value, ty: ir::Type) -> ir::Value {
        let lane = ty.lane_type();
        if self.builder.func.dfg.value_type(value) == lane {
            value
        } else {
            self.builder.ins().ireduce(lane, value)
        }
    }

    /// A lane-wise comparison of two vectors of type `ty`.
    fn vector_icmp(&mut self, cc: IntCC, ty: ir::Type) {
        let (a, b) = self.pop2_vectors(ty);
        let v = self.builder.ins().icmp(cc, a, b);
        self.push_vector(v);
    }

    /// A lane-wise float comparison of two vectors of type `ty`.
    fn vector_fcmp(&mut self, cc: FloatCC, ty: ir::Type) {
        let (a, b) = self.pop2_vectors(ty);
        let v = self.builder.ins().fcmp(cc, a, b);
        self.push_vector(v);
    }

    /// `pmin` (`pick_b_if_less`: `b < a ? b : a`) or `pmax` (`a < b ? b : a`).
    fn pseudo_min_max(&mut self, ty: ir::Type, max: bool) {
        let (a, b) = self.pop2_vectors(ty);
        let mask = if max {
            self.builder.ins().fcmp(FloatCC::LessThan, a, b)
        } else {
            self.builder.ins().fcmp(FloatCC::LessThan, b, a)
        };
        let mask = self.as_vector(mask, ty);
        let v = self.builder.ins().bitselect(mask, b, a);
        self.push_vector(v);
    }

    /// `extract_lane` of a vector of type `ty`, extended to `i32` for
    /// narrow lanes (`signed` or not).
    fn extract_lane(&mut self, ty: ir::Type, lane: u8, signed: bool) {
        let vector = self.pop_vector(ty);
        let x = self.builder.ins().extractlane(vector, lane);
        let wasm_ty = wasm_lane_type(ty);
        let v = if wasm_ty == ty.lane_type() {
            x
        } else if signed {
            self.builder.ins().sextend(wasm_ty, x)
        } else {
            self.builder.ins().uextend(wasm_ty, x)
        };
        self.push(v);
    }

    /// `replace_lane` of a vector of type `ty`.
    fn replace_lane(&mut self, ty: ir::Type, lane: u8) {
        let x = self.pop();
        let x = self.as_lane(x, ty);
        let vector = self.pop_vector(ty);
        let v = self.builder.ins().insertlane(vector, x, lane);
        self.push_vector(v);
    }

    /// `splat` into a vector of type `ty`.
    fn splat(&mut self, ty: ir::Type) {
        let x = self.pop();
        let x = self.as_lane(x, ty);
        let v = self.builder.ins().splat(ty, x);
        self.push_vector(v);
    }

    /// A shift of every lane of a vector of type `ty` by the `i32` on top.
    fn vector_shift(&mut self, ty: ir::Type, op: fn(&mut FunctionBuilder, ir::Value, ir::Value) -> ir::Value) {
        let amount = self.pop();
        let vector = self.pop_vector(ty);
        let v = op(&mut self.builder, vector, amount);
        self.push_vector(v);
    }

    /// `extmul_low/high`: the widened lanes of two vectors of type `ty`, multiplied.
    fn extended_multiply(&mut self, ty: ir::Type, high: bool, signed: bool) {
        let (a, b) = self.pop2_vectors(ty);
        let (a, b) = (self.widen(a, high, signed), self.widen(b, high, signed));
        let v = self.builder.ins().imul(a, b);
        self.push_vector(v);
    }

    /// The low or high half of `v`'s lanes, widened.
    fn widen(&mut self, v: ir::Value, high: bool, signed: bool) -> ir::Value {
        let ins = self.builder.ins();
        match (high, signed) {
            (false, true) => ins.swiden_low(v),
            (true, true) => ins.swiden_high(v),
            (false, false) => ins.uwiden_low(v),
            (true, false) => ins.uwiden_high(v),
        }
    }

    /// `extadd_pairwise`: adjacent lanes of a vector of type `ty`, widened and added.
    fn extended_add_pairwise(&mut self, ty: ir::Type, signed: bool) {
        let v = self.pop_vector(ty);
        let (low, high) = (self.widen(v, false, signed), self.widen(v, true, signed));
        let r = self.builder.ins().iadd_pairwise(low, high);
        self.push_vector(r);
    }

    /// Translates a SIMD operator; `false` if `op` is not one.
    pub(super) fn simd_operator(&mut self, op: &Operator<'_>) -> WasmResult<bool> {
        use Operator as O;
        macro_rules! unary {
            ($ty:expr, $method:ident) => {{
                let a = self.pop_vector($ty);
                let v = self.builder.ins().$method(a);
                self.push_vector(v);
            }};
        }
        macro_rules! binary {
            ($ty:expr, $method:ident) => {{
                let (a, b) = self.pop2_vectors($ty);
                let v = self.builder.ins().$method(a, b);
                self.push_vector(v);
            }};
        }
        macro_rules! to_i32 {
            ($ty:expr, $method:ident) => {{
                let a = self.pop_vector($ty);
                let t = self.builder.ins().$method(a);
                let v = self.builder.ins().uextend(I32, t);
                self.push(v);
            }};
        }
        macro_rules! convert {
            ($from:expr, $method:ident, $to:expr) => {{
                let a = self.pop_vector($from);
                let v = self.builder.ins().$method($to, a);
                self.push_vector(v);
            }};
        }
        match *op {
            O::V128Const { value } => {
                let v = vconst(&mut self.builder, u128::from_le_bytes(*value.bytes()));
                self.push(v);
            }
            O::I8x16Shuffle { lanes } => {
                let (a, b) = self.pop2_vectors(I8X16);
                let mask = self.builder.func.dfg.immediates.push(lanes.to_vec().into());
                let v = self.builder.ins().shuffle(a, b, mask);
                self.push_vector(v);
            }
            O::I8x16Swizzle => binary!(I8X16, swizzle),
            O::I8x16Splat => self.splat(I8X16),
            O::I16x8Splat => self.splat(I16X8),
            O::I32x4Splat => self.splat(I32X4),
            O::I64x2Splat => self.splat(I64X2),
            O::F32x4Splat => self.splat(F32X4),
            O::F64x2Splat => self.splat(F64X2),
            O::I8x16ExtractLaneS { lane } => self.extract_lane(I8X16, lane, true),
            O::I8x16ExtractLaneU { lane } => self.extract_lane(I8X16, lane, false),
            O::I16x8ExtractLaneS { lane } => self.extract_lane(I16X8, lane, true),
            O::I16x8ExtractLaneU { lane } => self.extract_lane(I16X8, lane, false),
            O::I32x4ExtractLane { lane } => self.extract_lane(I32X4, lane, false),
            O::I64x2ExtractLane { lane } => self.extract_lane(I64X2, lane, false),
            O::F32x4ExtractLane { lane } => self.extract_lane(F32X4, lane, false),
            O::F64x2ExtractLane { lane } => self.extract_lane(F64X2, lane, false),
            O::I8x16ReplaceLane { lane } => self.replace_lane(I8X16, lane),
            O::I16x8ReplaceLane { lane } => self.replace_lane(I16X8, lane),
            O::I32x4ReplaceLane { lane } => self.replace_lane(I32X4, lane),
            O::I64x2ReplaceLane { lane } => self.replace_lane(I64X2, lane),
            O::F32x4ReplaceLane { lane } => self.replace_lane(F32X4, lane),
            O::F64x2ReplaceLane { lane } => self.replace_lane(F64X2, lane),

            O::I8x16Eq => self.vector_icmp(IntCC::Equal, I8X16),
            O::I8x16Ne => self.vector_icmp(IntCC::NotEqual, I8X16),
            O::I8x16LtS => self.vector_icmp(IntCC::SignedLessThan, I8X16),
            O::I8x16LtU => self.vector_icmp(IntCC::UnsignedLessThan, I8X16),
            O::I8x16GtS => self.vector_icmp(IntCC::SignedGreaterThan, I8X16),
            O::I8x16GtU => self.vector_icmp(IntCC::UnsignedGreaterThan, I8X16),
            O::I8x16LeS => self.vector_icmp(IntCC::SignedLessThanOrEqual, I8X16),
            O::I8x16LeU => self.vector_icmp(IntCC::UnsignedLessThanOrEqual, I8X16),
            O::I8x16GeS => self.vector_icmp(IntCC::SignedGreaterThanOrEqual, I8X16),
            O::I8x16GeU => self.vector_icmp(IntCC::UnsignedGreaterThanOrEqual, I8X16),
            O::I16x8Eq => self.vector_icmp(IntCC::Equal, I16X8),
            O::I16x8Ne => self.vector_icmp(IntCC::NotEqual, I16X8),
            O::I16x8LtS => self.vector_icmp(IntCC::SignedLessThan, I16X8),
            O::I16x8LtU => self.vector_icmp(IntCC::UnsignedLessThan, I16X8),
            O::I16x8GtS => self.vector_icmp(IntCC::SignedGreaterThan, I16X8),
            O::I16x8GtU => self.vector_icmp(IntCC::UnsignedGreaterThan, I16X8),
            O::I16x8LeS => self.vector_icmp(IntCC::SignedLessThanOrEqual, I16X8),
            O::I16x8LeU => self.vector_icmp(IntCC::UnsignedLessThanOrEqual, I16X8),
            O::I16x8GeS => self.vector_icmp(IntCC::SignedGreaterThanOrEqual, I16X8),
            O::I16x8GeU => self.vector_icmp(IntCC::UnsignedGreaterThanOrEqual, I16X8),
            O::I32x4Eq => self.vector_icmp(IntCC::Equal, I32X4),
            O::I32x4Ne => self.vector_icmp(IntCC::NotEqual, I32X4),
            O::I32x4LtS => self.vector_icmp(IntCC::SignedLessThan, I32X4),
            O::I32x4LtU => self.vector_icmp(IntCC::UnsignedLessThan, I32X4),
            O::I32x4GtS => self.vector_icmp(IntCC::SignedGreaterThan, I32X4),
            O::I32x4GtU => self.vector_icmp(IntCC::UnsignedGreaterThan, I32X4),
            O::I32x4LeS => self.vector_icmp(IntCC::SignedLessThanOrEqual, I32X4),
            O::I32x4LeU => self.vector_icmp(IntCC::UnsignedLessThanOrEqual, I32X4),
            O::I32x4GeS => self.vector_icmp(IntCC::SignedGreaterThanOrEqual, I32X4),
            O::I32x4GeU => self.vector_icmp(IntCC::UnsignedGreaterThanOrEqual, I32X4),
            O::I64x2Eq => self.vector_icmp(IntCC::Equal, I64X2),
            O::I64x2Ne => self.vector_icmp(IntCC::NotEqual, I64X2),
            O::I64x2LtS => self.vector_icmp(IntCC::SignedLessThan, I64X2),
            O::I64x2GtS => self.vector_icmp(IntCC::SignedGreaterThan, I64X2),
            O::I64x2LeS => self.vector_icmp(IntCC::SignedLessThanOrEqual, I64X2),
            O::I64x2GeS => self.vector_icmp(IntCC::SignedGreaterThanOrEqual, I64X2),
            O::F32x4Eq => self.vector_fcmp(FloatCC::Equal, F32X4),
            O::F32x4Ne => self.vector_fcmp(FloatCC::NotEqual, F32X4),
            O::F32x4Lt => self.vector_fcmp(FloatCC::LessThan, F32X4),
            O::F32x4Gt => self.vector_fcmp(FloatCC::GreaterThan, F32X4),
            O::F32x4Le => self.vector_fcmp(FloatCC::LessThanOrEqual, F32X4),
            O::F32x4Ge => self.vector_fcmp(FloatCC::GreaterThanOrEqual, F32X4),
            O::F64x2Eq => self.vector_fcmp(FloatCC::Equal, F64X2),
            O::F64x2Ne => self.vector_fcmp(FloatCC::NotEqual, F64X2),
            O::F64x2Lt => self.vector_fcmp(FloatCC::LessThan, F64X2),
            O::F64x2Gt => self.vector_fcmp(FloatCC::GreaterThan, F64X2),
            O::F64x2Le => self.vector_fcmp(FloatCC::LessThanOrEqual, F64X2),
            O::F64x2Ge => self.vector_fcmp(FloatCC::GreaterThanOrEqual, F64X2),

            O::V128Not => unary!(I8X16, bnot),
            O::V128And => binary!(I8X16, band),
            O::V128AndNot => binary!(I8X16, band_not),
            O::V128Or => binary!(I8X16, bor),
            O::V128Xor => binary!(I8X16, bxor),
            O::V128Bitselect => {
                let mask = self.pop_vector(I8X16);
                let (a, b) = self.pop2_vectors(I8X16);
                let v = self.builder.ins().bitselect(mask, a, b);
                self.push_vector(v);
            }
            O::V128AnyTrue => to_i32!(I8X16, vany_true),
            O::I8x16AllTrue => to_i32!(I8X16, vall_true),
            O::I16x8AllTrue => to_i32!(I16X8, vall_true),
            O::I32x4AllTrue => to_i32!(I32X4, vall_true),
            O::I64x2AllTrue => to_i32!(I64X2, vall_true),
            O::I8x16Bitmask | O::I16x8Bitmask | O::I32x4Bitmask | O::I64x2Bitmask => {
                let ty = match *op {
                    O::I8x16Bitmask => I8X16,
                    O::I16x8Bitmask => I16X8,
                    O::I32x4Bitmask => I32X4,
                    _ => I64X2,
                };
                let a = self.pop_vector(ty);
                let v = self.builder.ins().vhigh_bits(I32, a);
                self.push(v);
            }

            O::I8x16Abs => unary!(I8X16, iabs),
            O::I16x8Abs => unary!(I16X8, iabs),
            O::I32x4Abs => unary!(I32X4, iabs),
            O::I64x2Abs => unary!(I64X2, iabs),
            O::I8x16Neg => unary!(I8X16, ineg),
            O::I16x8Neg => unary!(I16X8, ineg),
            O::I32x4Neg => unary!(I32X4, ineg),
            O::I64x2Neg => unary!(I64X2, ineg),
            O::I8x16Popcnt => unary!(I8X16, popcnt),
            O::I8x16Add => binary!(I8X16, iadd),
            O::I16x8Add => binary!(I16X8, iadd),
            O::I32x4Add => binary!(I32X4, iadd),
            O::I64x2Add => binary!(I64X2, iadd),
            O::I8x16Sub => binary!(I8X16, isub),
            O::I16x8Sub => binary!(I16X8, isub),
            O::I32x4Sub => binary!(I32X4, isub),
            O::I64x2Sub => binary!(I64X2, isub),
            O::I16x8Mul => binary!(I16X8, imul),
            O::I32x4Mul => binary!(I32X4, imul),
            O::I64x2Mul => binary!(I64X2, imul),
            O::I8x16AddSatS => binary!(I8X16, sadd_sat),
            O::I8x16AddSatU => binary!(I8X16, uadd_sat),
            O::I16x8AddSatS => binary!(I16X8, sadd_sat),
            O::I16x8AddSatU => binary!(I16X8, uadd_sat),
            O::I8x16SubSatS => binary!(I8X16, ssub_sat),
            O::I8x16SubSatU => binary!(I8X16, usub_sat),
            O::I16x8SubSatS => binary!(I16X8, ssub_sat),
            O::I16x8SubSatU => binary!(I16X8, usub_sat),
            O::I8x16MinS => binary!(I8X16, smin),
            O::I8x16MinU => binary!(I8X16, umin),
            O::I8x16MaxS => binary!(I8X16, smax),
            O::I8x16MaxU => binary!(I8X16, umax),
            O::I16x8MinS => binary!(I16X8, smin),
            O::I16x8MinU => binary!(I16X8, umin),
            O::I16x8MaxS => binary!(I16X8, smax),
            O::I16x8MaxU => binary!(I16X8, umax),
            O::I32x4MinS => binary!(I32X4, smin),
            O::I32x4MinU => binary!(I32X4, umin),
            O::I32x4MaxS => binary!(I32X4, smax),
            O::I32x4MaxU => binary!(I32X4, umax),
            O::I8x16AvgrU => binary!(I8X16, avg_round),
            O::I16x8AvgrU => binary!(I16X8, avg_round),
            O::I16x8Q15MulrSatS => binary!(I16X8, sqmul_round_sat),
            O::I8x16NarrowI16x8S => binary!(I16X8, snarrow),
            O::I8x16NarrowI16x8U => binary!(I16X8, unarrow),
            O::I16x8NarrowI32x4S => binary!(I32X4, snarrow),
            O::I16x8NarrowI32x4U => binary!(I32X4, unarrow),
            O::I16x8ExtendLowI8x16S => unary!(I8X16, swiden_low),
            O::I16x8ExtendHighI8x16S => unary!(I8X16, swiden_high),
            O::I16x8ExtendLowI8x16U => unary!(I8X16, uwiden_low),
            O::I16x8ExtendHighI8x16U => unary!(I8X16, uwiden_high),
            O::I32x4ExtendLowI16x8S => unary!(I16X8, swiden_low),
            O::I32x4ExtendHighI16x8S => unary!(I16X8, swiden_high),
            O::I32x4ExtendLowI16x8U => unary!(I16X8, uwiden_low),
            O::I32x4ExtendHighI16x8U => unary!(I16X8, uwiden_high),
            O::I64x2ExtendLowI32x4S => unary!(I32X4, swiden_low),
            O::I64x2ExtendHighI32x4S => unary!(I32X4, swiden_high),
            O::I64x2ExtendLowI32x4U => unary!(I32X4, uwiden_low),
            O::I64x2ExtendHighI32x4U => unary!(I32X4, uwiden_high),
            O::I16x8ExtMulLowI8x16S => self.extended_multiply(I8X16, false, true),
            O::I16x8ExtMulHighI8x16S => self.extended_multiply(I8X16, true, true),
            O::I16x8ExtMulLowI8x16U => self.extended_multiply(I8X16, false, false),
            O::I16x8ExtMulHighI8x16U => self.extended_multiply(I8X16, true, false),
            O::I32x4ExtMulLowI16x8S => self.extended_multiply(I16X8, false, true),
            O::I32x4ExtMulHighI16x8S => self.extended_multiply(I16X8, true, true),
            O::I32x4ExtMulLowI16x8U => self.extended_multiply(I16X8, false, false),
            O::I32x4ExtMulHighI16x8U => self.extended_multiply(I16X8, true, false),
            O::I64x2ExtMulLowI32x4S => self.extended_multiply(I32X4, false, true),
            O::I64x2ExtMulHighI32x4S => self.extended_multiply(I32X4, true, true),
            O::I64x2ExtMulLowI32x4U => self.extended_multiply(I32X4, false, false),
            O::I64x2ExtMulHighI32x4U => self.extended_multiply(I32X4, true, false),
            O::I16x8ExtAddPairwiseI8x16S => self.extended_add_pairwise(I8X16, true),
            O::I16x8ExtAddPairwiseI8x16U => self.extended_add_pairwise(I8X16, false),
            O::I32x4ExtAddPairwiseI16x8S => self.extended_add_pairwise(I16X8, true),
            O::I32x4ExtAddPairwiseI16x8U => self.extended_add_pairwise(I16X8, false),
            O::I32x4DotI16x8S => {
                let (a, b) = self.pop2_vectors(I16X8);
                let (a_low, b_low) = (self.widen(a, false, true), self.widen(b, false, true));
                let (a_high, b_high) = (self.widen(a, true, true), self.widen(b, true, true));
                let low = self.builder.ins().imul(a_low, b_low);
                let high = self.builder.ins().imul(a_high, b_high);
                let v = self.builder.ins().iadd_pairwise(low, high);
                self.push_vector(v);
            }
            O::I8x16Shl => self.vector_shift(I8X16, |b, x, n| b.ins().ishl(x, n)),
            O::I16x8Shl => self.vector_shift(I16X8, |b, x, n| b.ins().ishl(x, n)),
            O::I32x4Shl => self.vector_shift(I32X4, |b, x, n| b.ins().ishl(x, n)),
            O::I64x2Shl => self.vector_shift(I64X2, |b, x, n| b.ins().ishl(x, n)),
            O::I8x16ShrS => self.vector_shift(I8X16, |b, x, n| b.ins().sshr(x, n)),
            O::I16x8ShrS => self.vector_shift(I16X8, |b, x, n| b.ins().sshr(x, n)),
            O::I32x4ShrS => self.vector_shift(I32X4, |b, x, n| b.ins().sshr(x, n)),
            O::I64x2ShrS => self.vector_shift(I64X2, |b, x, n| b.ins().sshr(x, n)),
            O::I8x16ShrU => self.vector_shift(I8X16, |b, x, n| b.ins().ushr(x, n)),
            O::I16x8ShrU => self.vector_shift(I16X8, |b, x, n| b.ins().ushr(x, n)),
            O::I32x4ShrU => self.vector_shift(I32X4, |b, x, n| b.ins().ushr(x, n)),
            O::I64x2ShrU => self.vector_shift(I64X2, |b, x, n| b.ins().ushr(x, n)),

            O::F32x4Ceil => unary!(F32X4, ceil),
            O::F64x2Ceil => unary!(F64X2, ceil),
            O::F32x4Floor => unary!(F32X4, floor),
            O::F64x2Floor => unary!(F64X2, floor),
            O::F32x4Trunc => unary!(F32X4, trunc),
            O::F64x2Trunc => unary!(F64X2, trunc),
            O::F32x4Nearest => unary!(F32X4, nearest),
            O::F64x2Nearest => unary!(F64X2, nearest),
            O::F32x4Abs => unary!(F32X4, fabs),
            O::F64x2Abs => unary!(F64X2, fabs),
            O::F32x4Neg => unary!(F32X4, fneg),
            O::F64x2Neg => unary!(F64X2, fneg),
            O::F32x4Sqrt => unary!(F32X4, sqrt),
            O::F64x2Sqrt => unary!(F64X2, sqrt),
            O::F32x4Add => binary!(F32X4, fadd),
            O::F64x2Add => binary!(F64X2, fadd),
            O::F32x4Sub => binary!(F32X4, fsub),
            O::F64x2Sub => binary!(F64X2, fsub),
            O::F32x4Mul => binary!(F32X4, fmul),
            O::F64x2Mul => binary!(F64X2, fmul),
            O::F32x4Div => binary!(F32X4, fdiv),
            O::F64x2Div => binary!(F64X2, fdiv),
            O::F32x4Min => binary!(F32X4, fmin),
            O::F64x2Min => binary!(F64X2, fmin),
            O::F32x4Max => binary!(F32X4, fmax),
            O::F64x2Max => binary!(F64X2, fmax),
            O::F32x4PMin => self.pseudo_min_max(F32X4, false),
            O::F64x2PMin => self.pseudo_min_max(F64X2, false),
            O::F32x4PMax => self.pseudo_min_max(F32X4, true),
            O::F64x2PMax => self.pseudo_min_max(F64X2, true),

            O::I32x4TruncSatF32x4S => convert!(F32X4, fcvt_to_sint_sat, I32X4),
            O::I32x4TruncSatF32x4U => convert!(F32X4, fcvt_to_uint_sat, I32X4),
            O::F32x4ConvertI32x4S => convert!(I32X4, fcvt_from_sint, F32X4),
            O::F32x4ConvertI32x4U => convert!(I32X4, fcvt_from_uint, F32X4),
            O::F64x2ConvertLowI32x4S => {
                let a = self.pop_vector(I32X4);
                let wide = self.widen(a, false, true);
                let v = self.builder.ins().fcvt_from_sint(F64X2, wide);
                self.push_vector(v);
            }
            O::F64x2ConvertLowI32x4U => {
                let a = self.pop_vector(I32X4);
                let wide = self.widen(a, false, false);
                let v = self.builder.ins().fcvt_from_uint(F64X2, wide);
                self.push_vector(v);
            }
            O::I32x4TruncSatF64x2SZero | O::I32x4TruncSatF64x2UZero => {
                let signed = matches!(*op, O::I32x4TruncSatF64x2SZero);
                let a = self.pop_vector(F64X2);
                let wide = if signed {
                    self.builder.ins().fcvt_to_sint_sat(I64X2, a)
                } else {
                    self.builder.ins().fcvt_to_uint_sat(I64X2, a)
                };
                // An `i64x2` constant, not a bitcast `i8x16` one: the x86_64
                // backend lowers only this exact pattern of `snarrow`.
                let handle = self.builder.func.dfg.constants.insert(vec![0u8; 16].into());
                let zero = self.builder.ins().vconst(I64X2, handle);
                let v = if signed {
                    self.builder.ins().snarrow(wide, zero)
                } else {
                    self.builder.ins().uunarrow(wide, zero)
                };
                self.push_vector(v);
            }
            O::F32x4DemoteF64x2Zero => unary!(F64X2, fvdemote),
            O::F64x2PromoteLowF32x4 => unary!(F32X4, fvpromote_low),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::ir::types::{F32, F64, I64};

    #[test]
    fn narrow_lanes_travel_as_i32() {
        assert_eq!(wasm_lane_type(I8X16), I32);
        assert_eq!(wasm_lane_type(I16X8), I32);
        assert_eq!(wasm_lane_type(I64X2), I64);
        assert_eq!(wasm_lane_type(F32X4), F32);
        assert_eq!(wasm_lane_type(F64X2), F64);
    }
}
