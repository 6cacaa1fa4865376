//! [`Val`]: a WebAssembly value, and its raw form in trampolines' value
//! arrays and in tables and globals.

use std::num::NonZeroU64;

use wasmc_abi::meta::ValType;

use crate::error::Error;
use crate::func::Func;
use crate::store::StoreOpaque;
use crate::vm::ValRaw;

/// A WebAssembly value. Floats are kept as bits so NaN payloads survive.
#[derive(Clone, Copy, Debug)]
pub enum Val {
    /// `i32`
    I32(i32),
    /// `i64`
    I64(i64),
    /// `f32`, as bits.
    F32(u32),
    /// `f64`, as bits.
    F64(u64),
    /// `v128`, little-endian.
    V128(u128),
    /// `funcref`; `None` is `ref.null func`.
    FuncRef(Option<Func>),
    /// `externref`: an opaque non-zero host word; `None` is `ref.null extern`.
    ExternRef(Option<NonZeroU64>),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The null reference of a reference type; `None` for number types.
    pub fn null(ty: ValType) -> Option<Val> {
        match ty {
            ValType::FuncRef => Some(Val::FuncRef(None)),
            ValType::ExternRef => Some(Val::ExternRef(None)),
            _ => None,
        }
    }

    /// The zero value of `ty` (null for references).
    pub(crate) fn zero(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
        }
    }

    /// The raw reference word of a reference value (0 for null).
    pub(crate) fn ref_word(&self, store: &StoreOpaque) -> Result<usize, Error> {
        match self {
            Val::FuncRef(None) | Val::ExternRef(None) => Ok(0),
            Val::FuncRef(Some(f)) => Ok(f.func_ref_ptr(store)? as usize),
            Val::ExternRef(Some(x)) => {
                usize::try_from(x.get()).map_err(|_| Error::Type("externref does not fit in a pointer".into()))
            }
            other => Err(Error::Type(format!("expected a reference, got {}", other.ty()))),
        }
    }

    /// The raw form of this value; funcrefs must belong to `store`.
    pub(crate) fn to_raw(self, store: &StoreOpaque) -> Result<ValRaw, Error> {
        Ok(match self {
            Val::I32(v) => ValRaw::from_u128(u128::from(v as u32)),
            Val::I64(v) => ValRaw::from_u128(u128::from(v as u64)),
            Val::F32(v) => ValRaw::from_u128(u128::from(v)),
            Val::F64(v) => ValRaw::from_u128(u128::from(v)),
            Val::V128(v) => ValRaw::from_u128(v),
            Val::FuncRef(_) | Val::ExternRef(_) => ValRaw::from_u128(self.ref_word(store)? as u128),
        })
    }

    /// Reads a value of type `ty` from its raw form.
    pub(crate) fn from_raw(store: &StoreOpaque, ty: ValType, raw: &ValRaw) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw.u32() as i32),
            ValType::I64 => Val::I64(raw.u64() as i64),
            ValType::F32 => Val::F32(raw.u32()),
            ValType::F64 => Val::F64(raw.u64()),
            ValType::V128 => Val::V128(raw.u128()),
            ValType::FuncRef | ValType::ExternRef => Val::from_ref_word(store, ty, raw.u64() as usize),
        }
    }

    /// The reference value of type `ty` for a raw word.
    pub(crate) fn from_ref_word(store: &StoreOpaque, ty: ValType, word: usize) -> Val {
        match ty {
            ValType::FuncRef => Val::FuncRef(Func::from_ref_word(store, word)),
            _ => Val::ExternRef(NonZeroU64::new(word as u64)),
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}

impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

impl From<Func> for Val {
    fn from(f: Func) -> Val {
        Val::FuncRef(Some(f))
    }
}
