//! Turning Rust closures into host functions ([`IntoFunc`]) and the value
//! types they may take and return ([`WasmTy`], [`WasmRet`]).

use wasmc_abi::meta::{FuncType, ValType};

use crate::error::HostError;
use crate::func::{Caller, HostFn, HostFunc, RawValues};
use crate::instance::Instance;
use crate::store::StoreOpaque;
use crate::values::Val;

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that is one WebAssembly value: `i32`, `i64`, `f32`, `f64`,
/// or `u128` for `v128`.
pub trait WasmTy: sealed::Sealed + Copy + Send + Sync + 'static {
    /// The WebAssembly type.
    const TYPE: ValType;
    /// Converts from a value of [`WasmTy::TYPE`].
    fn from_val(v: &Val) -> Option<Self>;
    /// Converts into a value.
    fn into_val(self) -> Val;
    /// Reads the value from the bits of its 16-byte slot.
    #[doc(hidden)]
    fn from_bits(bits: u128) -> Self;
    /// The bits of the value's 16-byte slot.
    #[doc(hidden)]
    fn to_bits(self) -> u128;
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, $from:expr, $into:expr, $from_bits:expr, $to_bits:expr) => {
        impl sealed::Sealed for $t {}
        impl WasmTy for $t {
            const TYPE: ValType = ValType::$vt;
            fn from_val(v: &Val) -> Option<Self> {
                match *v {
                    Val::$vt(x) => Some($from(x)),
                    _ => None,
                }
            }
            fn into_val(self) -> Val {
                Val::$vt($into(self))
            }
            fn from_bits(bits: u128) -> Self {
                $from_bits(bits)
            }
            fn to_bits(self) -> u128 {
                $to_bits(self)
            }
        }
    };
}

// A slot holds a value in its low bytes, little-endian; the bytes above
// are not read.
wasm_ty!(i32, I32, |x| x, |x| x, |b| b as u32 as i32, |x: i32| u128::from(x as u32));
wasm_ty!(i64, I64, |x| x, |x| x, |b| b as u64 as i64, |x: i64| u128::from(x as u64));
wasm_ty!(f32, F32, f32::from_bits, f32::to_bits, |b| f32::from_bits(b as u32), |x: f32| u128::from(x.to_bits()));
wasm_ty!(f64, F64, f64::from_bits, f64::to_bits, |b| f64::from_bits(b as u64), |x: f64| u128::from(x.to_bits()));
wasm_ty!(u128, V128, |x| x, |x| x, |b| b, |x| x);

/// What a host closure may return: `()`, a [`WasmTy`], a tuple of them, or
/// a `Result` of one of these with [`HostError`].
pub trait WasmRet {
    /// The result types.
    fn types() -> Vec<ValType>;
    /// Stores the results in a host call's values array.
    #[doc(hidden)]
    fn store(self, out: &mut RawValues<'_>) -> Result<(), HostError>;
}

impl<T: WasmTy> WasmRet for T {
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn store(self, out: &mut RawValues<'_>) -> Result<(), HostError> {
        out.set(0, self.to_bits());
        Ok(())
    }
}

impl<R: WasmRet> WasmRet for Result<R, HostError> {
    fn types() -> Vec<ValType> {
        R::types()
    }
    fn store(self, out: &mut RawValues<'_>) -> Result<(), HostError> {
        self?.store(out)
    }
}

macro_rules! wasm_ret_tuple {
    ($($t:ident $i:tt),*) => {
        impl<$($t: WasmTy),*> WasmRet for ($($t,)*) {
            fn types() -> Vec<ValType> {
                vec![$($t::TYPE),*]
            }
            #[allow(unused_variables)]
            fn store(self, out: &mut RawValues<'_>) -> Result<(), HostError> {
                $(out.set($i, self.$i.to_bits());)*
                Ok(())
            }
        }
    };
}

wasm_ret_tuple!();
wasm_ret_tuple!(A 0, B 1);
wasm_ret_tuple!(A 0, B 1, C 2);
wasm_ret_tuple!(A 0, B 1, C 2, D 3);
wasm_ret_tuple!(A 0, B 1, C 2, D 3, E 4);
wasm_ret_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
wasm_ret_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
wasm_ret_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A closure usable as a host function of a `Linker<T>`; see
/// [`crate::Linker::func_wrap`]. `Params` and `Results` only guide type
/// inference.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    #[doc(hidden)]
    fn into_host_func(self) -> HostFunc;
}

macro_rules! into_func {
    ($($a:ident $i:tt),*) => {
        impl<T, F, R, $($a: WasmTy),*> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
            R: WasmRet,
        {
            fn into_host_func(self) -> HostFunc {
                let ty = FuncType { params: vec![$($a::TYPE),*], results: R::types() };
                HostFunc {
                    ty,
                    #[allow(unused_variables)]
                    func: HostFn::Typed(Box::new(move |_: &mut StoreOpaque, _: Option<Instance>, mut values: RawValues<'_>| {
                        (self)($($a::from_bits(values.get($i))),*).store(&mut values)
                    })),
                }
            }
        }

        impl<T: 'static, F, R, $($a: WasmTy),*> IntoFunc<T, (Caller<'_, T>, $($a,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
            R: WasmRet,
        {
            fn into_host_func(self) -> HostFunc {
                let ty = FuncType { params: vec![$($a::TYPE),*], results: R::types() };
                HostFunc {
                    ty,
                    #[allow(unused_variables)]
                    func: HostFn::Typed(Box::new(move |store: &mut StoreOpaque, instance: Option<Instance>, mut values: RawValues<'_>| {
                        (self)(Caller::new(store, instance), $($a::from_bits(values.get($i))),*).store(&mut values)
                    })),
                }
            }
        }
    };
}

into_func!();
into_func!(A1 0);
into_func!(A1 0, A2 1);
into_func!(A1 0, A2 1, A3 2);
into_func!(A1 0, A2 1, A3 2, A4 3);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7);
