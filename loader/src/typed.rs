//! [`TypedFunc`]: an exported function with a signature checked once, then
//! called without per-call type checks or allocation.

use std::marker::PhantomData;

use wasmc_abi::meta::{FuncType, ValType};

use crate::error::Error;
use crate::func::Func;
use crate::into_func::WasmTy;
use crate::store::{AsContext, AsContextMut};
use crate::values::Val;
use crate::vm::ValRaw;

/// Most parameters or results a typed call passes.
const MAX_VALUES: usize = 8;

/// Parameters of a typed call: `()`, one [`WasmTy`], or a tuple of up to 8.
pub trait WasmParams: Send + Sync + 'static {
    /// The parameter types.
    fn types() -> Vec<ValType>;
    /// Writes the parameters into the first slots.
    #[doc(hidden)]
    fn store_raw(self, slots: &mut [ValRaw]);
    /// The parameters as values (for host functions).
    #[doc(hidden)]
    fn to_vals(self) -> Vec<Val>;
}

/// Results of a typed call: `()`, one [`WasmTy`], or a tuple of up to 8.
pub trait WasmResults: Sized + Send + Sync + 'static {
    /// The result types.
    fn types() -> Vec<ValType>;
    /// Reads the results from the first slots.
    #[doc(hidden)]
    fn load_raw(slots: &[ValRaw]) -> Self;
    /// Reads the results from values of the right types.
    #[doc(hidden)]
    fn from_vals(vals: &[Val]) -> Option<Self>;
}

fn raw_of<T: WasmTy>(v: T) -> ValRaw {
    match v.into_val() {
        Val::I32(x) => ValRaw::from_u128(u128::from(x as u32)),
        Val::I64(x) => ValRaw::from_u128(u128::from(x as u64)),
        Val::F32(x) => ValRaw::from_u128(u128::from(x)),
        Val::F64(x) => ValRaw::from_u128(u128::from(x)),
        Val::V128(x) => ValRaw::from_u128(x),
        Val::FuncRef(_) | Val::ExternRef(_) => ValRaw::default(),
    }
}

fn from_raw<T: WasmTy>(raw: &ValRaw) -> T {
    let v = match T::TYPE {
        ValType::I32 => Val::I32(raw.u32() as i32),
        ValType::I64 => Val::I64(raw.u64() as i64),
        ValType::F32 => Val::F32(raw.u32()),
        ValType::F64 => Val::F64(raw.u64()),
        _ => Val::V128(raw.u128()),
    };
    // `T::TYPE` matches the variant built above for every `WasmTy`.
    T::from_val(&v).unwrap_or_else(|| unreachable!("WasmTy round trip"))
}

impl<T: WasmTy> WasmParams for T {
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn store_raw(self, slots: &mut [ValRaw]) {
        slots[0] = raw_of(self);
    }
    fn to_vals(self) -> Vec<Val> {
        vec![self.into_val()]
    }
}

impl<T: WasmTy> WasmResults for T {
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn load_raw(slots: &[ValRaw]) -> Self {
        from_raw(&slots[0])
    }
    fn from_vals(vals: &[Val]) -> Option<Self> {
        T::from_val(vals.first()?)
    }
}

macro_rules! tuples {
    ($($t:ident $i:tt),*) => {
        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            fn types() -> Vec<ValType> {
                vec![$($t::TYPE),*]
            }
            #[allow(unused_variables)]
            fn store_raw(self, slots: &mut [ValRaw]) {
                $(slots[$i] = raw_of(self.$i);)*
            }
            fn to_vals(self) -> Vec<Val> {
                vec![$(self.$i.into_val()),*]
            }
        }

        impl<$($t: WasmTy),*> WasmResults for ($($t,)*) {
            fn types() -> Vec<ValType> {
                vec![$($t::TYPE),*]
            }
            #[allow(unused_variables, clippy::unused_unit)]
            fn load_raw(slots: &[ValRaw]) -> Self {
                ($(from_raw::<$t>(&slots[$i]),)*)
            }
            #[allow(unused_variables)]
            fn from_vals(vals: &[Val]) -> Option<Self> {
                Some(($($t::from_val(vals.get($i)?)?,)*))
            }
        }
    };
}

tuples!();
tuples!(A 0);
tuples!(A 0, B 1);
tuples!(A 0, B 1, C 2);
tuples!(A 0, B 1, C 2, D 3);
tuples!(A 0, B 1, C 2, D 3, E 4);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A function whose signature was checked to be `P -> R`.
pub struct TypedFunc<P, R> {
    func: Func,
    _signature: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, R> Copy for TypedFunc<P, R> {}

impl<P, R> std::fmt::Debug for TypedFunc<P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedFunc").field("func", &self.func).finish()
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Checks that `func` has type `P -> R`.
    pub fn new(store: impl AsContext, func: Func) -> Result<Self, Error> {
        let store = store.as_context().0;
        store.check(func.store)?;
        let want = FuncType { params: P::types(), results: R::types() };
        let found = func.ty(store);
        if want != found {
            return Err(Error::Type(format!("function has type {found}, not {want}")));
        }
        Ok(TypedFunc { func, _signature: PhantomData })
    }

    /// The untyped function.
    pub fn func(&self) -> Func {
        self.func
    }

    /// Calls the function.
    pub fn call(&self, mut store: impl AsContextMut, params: P) -> Result<R, Error> {
        let store = store.as_context_mut().0;
        store.check(self.func.store)?;
        let data = store.func(self.func.index);
        if data.host.is_some() {
            let results = self.func.call(store, &params.to_vals())?;
            return R::from_vals(&results).ok_or_else(|| Error::Type("host function results".into()));
        }
        // SAFETY: the funcref is owned by the store and stays valid.
        let func_ref = unsafe { *data.func_ref.as_ptr() };
        let mut values = [ValRaw::default(); MAX_VALUES];
        params.store_raw(&mut values);
        // SAFETY: a wasm funcref of this store whose type is `P -> R`
        // (checked in `new`), with 8 slots (at most 8 params and results).
        unsafe { crate::func::invoke(store, func_ref, &mut values)? };
        Ok(R::load_raw(&values))
    }
}
