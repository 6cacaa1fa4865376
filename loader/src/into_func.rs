//! Turning Rust closures into host functions ([`IntoFunc`]) and the value
//! types they may take and return ([`WasmTy`], [`WasmRet`]).

use wasmc_abi::meta::{FuncType, ValType};

use crate::error::HostError;
use crate::func::{Caller, HostFunc};
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
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, $from:expr, $into:expr) => {
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
        }
    };
}

wasm_ty!(i32, I32, |x| x, |x| x);
wasm_ty!(i64, I64, |x| x, |x| x);
wasm_ty!(f32, F32, f32::from_bits, f32::to_bits);
wasm_ty!(f64, F64, f64::from_bits, f64::to_bits);
wasm_ty!(u128, V128, |x| x, |x| x);

/// What a host closure may return: `()`, a [`WasmTy`], a tuple of them, or
/// a `Result` of one of these with [`HostError`].
pub trait WasmRet {
    /// The result types.
    fn types() -> Vec<ValType>;
    /// Stores the results (exactly `types().len()` slots).
    fn store(self, out: &mut [Val]) -> Result<(), HostError>;
}

impl<T: WasmTy> WasmRet for T {
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn store(self, out: &mut [Val]) -> Result<(), HostError> {
        out[0] = self.into_val();
        Ok(())
    }
}

impl<R: WasmRet> WasmRet for Result<R, HostError> {
    fn types() -> Vec<ValType> {
        R::types()
    }
    fn store(self, out: &mut [Val]) -> Result<(), HostError> {
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
            fn store(self, out: &mut [Val]) -> Result<(), HostError> {
                $(out[$i] = self.$i.into_val();)*
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

fn arg<T: WasmTy>(args: &[Val], i: usize) -> Result<T, HostError> {
    args.get(i).and_then(T::from_val).ok_or_else(|| HostError::new("host function argument of the wrong type"))
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
                    func: Box::new(move |_: &mut StoreOpaque, _: Option<Instance>, args: &[Val], results: &mut [Val]| {
                        (self)($(arg::<$a>(args, $i)?),*).store(results)
                    }),
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
                    func: Box::new(move |store: &mut StoreOpaque, instance: Option<Instance>, args: &[Val], results: &mut [Val]| {
                        (self)(Caller::new(store, instance), $(arg::<$a>(args, $i)?),*).store(results)
                    }),
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
