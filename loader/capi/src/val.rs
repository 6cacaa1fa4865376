//! `wasmc_val_t`: a number value tagged with its kind, laid out as
//! `wasmtime_val_t` is (kind byte, then an 8-byte union).

use wasmc_loader::{RawValues, Val, ValType};

use crate::error::{wasmc_error_t, CResult};

/// A value's type (`WASMC_I32`, ...), numbered as in `wasmtime.h`.
pub type wasmc_valkind_t = u8;

/// `i32`
pub const WASMC_I32: wasmc_valkind_t = 0;
/// `i64`
pub const WASMC_I64: wasmc_valkind_t = 1;
/// `f32`
pub const WASMC_F32: wasmc_valkind_t = 2;
/// `f64`
pub const WASMC_F64: wasmc_valkind_t = 3;

/// The payload of a [`wasmc_val_t`], read according to its kind.
#[repr(C)]
#[derive(Clone, Copy)]
pub union wasmc_valunion_t {
    /// For `WASMC_I32`.
    pub i32: i32,
    /// For `WASMC_I64`.
    pub i64: i64,
    /// For `WASMC_F32`.
    pub f32: f32,
    /// For `WASMC_F64`.
    pub f64: f64,
}

/// A value passed to or returned from wasm: `{ kind, of }`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wasmc_val_t {
    /// Which member of `of` holds the value.
    pub kind: wasmc_valkind_t,
    /// The value.
    pub of: wasmc_valunion_t,
}

/// The loader's type for a C value kind.
pub(crate) fn val_type(kind: wasmc_valkind_t) -> CResult<ValType> {
    match kind {
        WASMC_I32 => Ok(ValType::I32),
        WASMC_I64 => Ok(ValType::I64),
        WASMC_F32 => Ok(ValType::F32),
        WASMC_F64 => Ok(ValType::F64),
        other => {
            Err(wasmc_error_t::invalid(format!("unknown value kind {other} (the C API passes i32, i64, f32, f64)")))
        }
    }
}

impl wasmc_val_t {
    /// The zero of type `ty` (the C API's types are numbers: `val_type`
    /// refuses the rest).
    pub(crate) fn zero(ty: ValType) -> wasmc_val_t {
        let kind = match ty {
            ValType::I64 => WASMC_I64,
            ValType::F32 => WASMC_F32,
            ValType::F64 => WASMC_F64,
            _ => WASMC_I32,
        };
        wasmc_val_t { kind, of: wasmc_valunion_t { i64: 0 } }
    }

    /// Slot `i` of a host call, read as this value's kind.
    pub(crate) fn load(&mut self, values: &RawValues<'_>, i: usize) {
        self.of = match self.kind {
            WASMC_I64 => wasmc_valunion_t { i64: values.get_as(i) },
            WASMC_F32 => wasmc_valunion_t { f32: values.get_as(i) },
            WASMC_F64 => wasmc_valunion_t { f64: values.get_as(i) },
            _ => wasmc_valunion_t { i32: values.get_as(i) },
        };
    }

    /// Writes this value, which must be of type `ty`, to slot `i` of a host
    /// call; an error if the host wrote another kind.
    ///
    /// By reference, and reading only the member `kind` names: the callback
    /// has just written that member, and a wider read of the whole value
    /// would wait for the write to reach the cache.
    #[inline]
    pub(crate) fn store(&self, ty: ValType, values: &mut RawValues<'_>, i: usize) -> CResult<()> {
        // SAFETY (each arm): `kind` says which union member C wrote; every
        // member is plain data, valid for any bits.
        match (self.kind, ty) {
            // SAFETY: see above.
            (WASMC_I32, ValType::I32) => values.set_as(i, unsafe { self.of.i32 }),
            // SAFETY: see above.
            (WASMC_I64, ValType::I64) => values.set_as(i, unsafe { self.of.i64 }),
            // SAFETY: see above.
            (WASMC_F32, ValType::F32) => values.set_as(i, unsafe { self.of.f32 }),
            // SAFETY: see above.
            (WASMC_F64, ValType::F64) => values.set_as(i, unsafe { self.of.f64 }),
            _ => {
                return Err(wasmc_error_t::new(
                    crate::error::WASMC_ERROR_TYPE,
                    format!("a {} where the function returns {ty}", self.to_val()?.ty()),
                ))
            }
        }
        Ok(())
    }

    /// The loader's value; an error for an unknown kind.
    pub(crate) fn to_val(self) -> CResult<Val> {
        // SAFETY (each arm): `kind` says which union member C wrote; every
        // member is plain data, valid for any bits.
        Ok(match self.kind {
            // SAFETY: see above.
            WASMC_I32 => Val::I32(unsafe { self.of.i32 }),
            // SAFETY: see above.
            WASMC_I64 => Val::I64(unsafe { self.of.i64 }),
            // SAFETY: see above.
            WASMC_F32 => Val::F32(unsafe { self.of.f32 }.to_bits()),
            // SAFETY: see above.
            WASMC_F64 => Val::F64(unsafe { self.of.f64 }.to_bits()),
            other => return Err(wasmc_error_t::invalid(format!("unknown value kind {other}"))),
        })
    }
}

impl TryFrom<Val> for wasmc_val_t {
    type Error = Box<wasmc_error_t>;

    /// A C value; v128 and references have no C form yet.
    fn try_from(val: Val) -> CResult<wasmc_val_t> {
        let (kind, of) = match val {
            Val::I32(i32) => (WASMC_I32, wasmc_valunion_t { i32 }),
            Val::I64(i64) => (WASMC_I64, wasmc_valunion_t { i64 }),
            Val::F32(bits) => (WASMC_F32, wasmc_valunion_t { f32: f32::from_bits(bits) }),
            Val::F64(bits) => (WASMC_F64, wasmc_valunion_t { f64: f64::from_bits(bits) }),
            other => {
                return Err(wasmc_error_t::new(
                    crate::error::WASMC_ERROR_TYPE,
                    format!("a {} value has no C form (the C API passes i32, i64, f32, f64)", other.ty()),
                ))
            }
        };
        Ok(wasmc_val_t { kind, of })
    }
}

/// Calls with at most this many values (arguments and results of a host
/// function together; each of a call into wasm) keep them on the stack.
pub(crate) const INLINE_VALUES: usize = 16;

/// Values on the stack for the usual few, on the heap past that.
pub(crate) type Values<V> = smallvec::SmallVec<[V; INLINE_VALUES]>;

/// Copies `vals` into the C results array, of the same length.
pub(crate) fn store_results(vals: &[Val], out: &mut [wasmc_val_t]) -> CResult<()> {
    for (slot, &val) in out.iter_mut().zip(vals) {
        *slot = wasmc_val_t::try_from(val)?;
    }
    Ok(())
}

/// The `WASMC_*` value kinds, by name, for the header test.
pub const VAL_KINDS: [(&str, wasmc_valkind_t); 4] =
    [("I32", WASMC_I32), ("I64", WASMC_I64), ("F32", WASMC_F32), ("F64", WASMC_F64)];
