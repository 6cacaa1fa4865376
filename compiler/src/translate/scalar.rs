//! Integer and floating-point operators and conversions.
//!
//! Cranelift's integer division and float-to-integer conversions trap as
//! WebAssembly requires (division by zero, `INT_MIN / -1` overflow, NaN
//! and out-of-range conversions), and its shifts and rotates take the
//! amount modulo the width, as wasm's do; `fmin`/`fmax`/`nearest` have
//! wasm's semantics too. So most operators are one CLIF instruction.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, types, InstBuilder};
use wasmparser::Operator;

use super::{Translator, WasmResult};

impl Translator<'_, '_, '_> {
    /// An integer comparison, as an `i32` 0 or 1.
    fn icmp(&mut self, cc: IntCC) {
        let (a, b) = self.pop2();
        let c = self.builder.ins().icmp(cc, a, b);
        let v = self.builder.ins().uextend(types::I32, c);
        self.push(v);
    }

    /// A float comparison, as an `i32` 0 or 1.
    fn fcmp(&mut self, cc: FloatCC) {
        let (a, b) = self.pop2();
        let c = self.builder.ins().fcmp(cc, a, b);
        let v = self.builder.ins().uextend(types::I32, c);
        self.push(v);
    }

    /// Sign-extends the low `from` bits of the top value, of type `ty`.
    fn sign_extend_low(&mut self, from: ir::Type, ty: ir::Type) {
        let a = self.pop();
        let low = self.builder.ins().ireduce(from, a);
        let v = self.builder.ins().sextend(ty, low);
        self.push(v);
    }

    /// Translates a scalar operator; `false` if `op` is not one.
    pub(super) fn scalar_operator(&mut self, op: &Operator<'_>) -> WasmResult<bool> {
        use Operator as O;
        macro_rules! unary {
            ($method:ident) => {{
                let a = self.pop();
                let v = self.builder.ins().$method(a);
                self.push(v);
            }};
            ($method:ident, $ty:expr) => {{
                let a = self.pop();
                let v = self.builder.ins().$method($ty, a);
                self.push(v);
            }};
        }
        macro_rules! binary {
            ($method:ident) => {{
                let (a, b) = self.pop2();
                let v = self.builder.ins().$method(a, b);
                self.push(v);
            }};
        }
        macro_rules! reinterpret {
            ($ty:expr) => {{
                let a = self.pop();
                let v = self.builder.ins().bitcast($ty, ir::MemFlagsData::new(), a);
                self.push(v);
            }};
        }
        match *op {
            O::I32Const { value } => {
                let v = self.builder.ins().iconst(types::I32, i64::from(value));
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.builder.ins().iconst(types::I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self.builder.ins().f32const(ir::immediates::Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self.builder.ins().f64const(ir::immediates::Ieee64::with_bits(value.bits()));
                self.push(v);
            }

            O::I32Clz | O::I64Clz => unary!(clz),
            O::I32Ctz | O::I64Ctz => unary!(ctz),
            O::I32Popcnt | O::I64Popcnt => unary!(popcnt),
            O::I32Add | O::I64Add => binary!(iadd),
            O::I32Sub | O::I64Sub => binary!(isub),
            O::I32Mul | O::I64Mul => binary!(imul),
            O::I32DivS | O::I64DivS => binary!(sdiv),
            O::I32DivU | O::I64DivU => binary!(udiv),
            O::I32RemS | O::I64RemS => binary!(srem),
            O::I32RemU | O::I64RemU => binary!(urem),
            O::I32And | O::I64And => binary!(band),
            O::I32Or | O::I64Or => binary!(bor),
            O::I32Xor | O::I64Xor => binary!(bxor),
            O::I32Shl | O::I64Shl => binary!(ishl),
            O::I32ShrS | O::I64ShrS => binary!(sshr),
            O::I32ShrU | O::I64ShrU => binary!(ushr),
            O::I32Rotl | O::I64Rotl => binary!(rotl),
            O::I32Rotr | O::I64Rotr => binary!(rotr),

            O::I32Eqz | O::I64Eqz => {
                let a = self.pop();
                let c = self.builder.ins().icmp_imm_s(IntCC::Equal, a, 0);
                let v = self.builder.ins().uextend(types::I32, c);
                self.push(v);
            }
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal),
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual),
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan),
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan),
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan),
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual),

            O::I32Extend8S => self.sign_extend_low(types::I8, types::I32),
            O::I32Extend16S => self.sign_extend_low(types::I16, types::I32),
            O::I64Extend8S => self.sign_extend_low(types::I8, types::I64),
            O::I64Extend16S => self.sign_extend_low(types::I16, types::I64),
            O::I64Extend32S => self.sign_extend_low(types::I32, types::I64),

            O::F32Abs | O::F64Abs => unary!(fabs),
            O::F32Neg | O::F64Neg => unary!(fneg),
            O::F32Ceil | O::F64Ceil => unary!(ceil),
            O::F32Floor | O::F64Floor => unary!(floor),
            O::F32Trunc | O::F64Trunc => unary!(trunc),
            O::F32Nearest | O::F64Nearest => unary!(nearest),
            O::F32Sqrt | O::F64Sqrt => unary!(sqrt),
            O::F32Add | O::F64Add => binary!(fadd),
            O::F32Sub | O::F64Sub => binary!(fsub),
            O::F32Mul | O::F64Mul => binary!(fmul),
            O::F32Div | O::F64Div => binary!(fdiv),
            O::F32Min | O::F64Min => binary!(fmin),
            O::F32Max | O::F64Max => binary!(fmax),
            O::F32Copysign | O::F64Copysign => binary!(fcopysign),
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal),
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual),
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan),
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan),
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual),
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual),

            O::I32WrapI64 => unary!(ireduce, types::I32),
            O::I64ExtendI32S => unary!(sextend, types::I64),
            O::I64ExtendI32U => unary!(uextend, types::I64),
            O::I32TruncF32S | O::I32TruncF64S => unary!(fcvt_to_sint, types::I32),
            O::I32TruncF32U | O::I32TruncF64U => unary!(fcvt_to_uint, types::I32),
            O::I64TruncF32S | O::I64TruncF64S => unary!(fcvt_to_sint, types::I64),
            O::I64TruncF32U | O::I64TruncF64U => unary!(fcvt_to_uint, types::I64),
            O::I32TruncSatF32S | O::I32TruncSatF64S => unary!(fcvt_to_sint_sat, types::I32),
            O::I32TruncSatF32U | O::I32TruncSatF64U => unary!(fcvt_to_uint_sat, types::I32),
            O::I64TruncSatF32S | O::I64TruncSatF64S => unary!(fcvt_to_sint_sat, types::I64),
            O::I64TruncSatF32U | O::I64TruncSatF64U => unary!(fcvt_to_uint_sat, types::I64),
            O::F32ConvertI32S | O::F32ConvertI64S => unary!(fcvt_from_sint, types::F32),
            O::F32ConvertI32U | O::F32ConvertI64U => unary!(fcvt_from_uint, types::F32),
            O::F64ConvertI32S | O::F64ConvertI64S => unary!(fcvt_from_sint, types::F64),
            O::F64ConvertI32U | O::F64ConvertI64U => unary!(fcvt_from_uint, types::F64),
            O::F32DemoteF64 => unary!(fdemote, types::F32),
            O::F64PromoteF32 => unary!(fpromote, types::F64),
            O::F32ReinterpretI32 => reinterpret!(types::F32),
            O::F64ReinterpretI64 => reinterpret!(types::F64),
            O::I32ReinterpretF32 => reinterpret!(types::I32),
            O::I64ReinterpretF64 => reinterpret!(types::I64),
            _ => return Ok(false),
        }
        Ok(true)
    }
}
