//! [`Linker`]: names for host functions and store items, and import
//! matching ("import matching" in the WebAssembly spec).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use wasmc_abi::meta::{ExternKind, FuncType, Import, ImportType};
use wasmc_abi::BoundsChecks;

use crate::error::{Error, HostError, LinkError};
use crate::externals::Extern;
use crate::func::{Caller, HostFn, HostFunc, RawValues};
use crate::instance::Instance;
use crate::into_func::IntoFunc;
use crate::module::Module;
use crate::store::AsContext;
use crate::store::StoreOpaque;
use crate::values::Val;

#[derive(Clone)]
enum Definition {
    /// Works in any store: instantiated per importing instance.
    Host(Arc<HostFunc>),
    /// Bound to one store.
    Extern(Extern),
}

/// Definitions to satisfy imports with, for instances in `Store<T>`s: host
/// functions (which get a `Caller<'_, T>`) and store items. `Send + Sync`;
/// cheap to clone. Build it once and share it between threads.
pub struct Linker<T = ()> {
    defs: HashMap<(String, String), Definition>,
    _data: PhantomData<fn() -> T>,
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker { defs: self.defs.clone(), _data: PhantomData }
    }
}

impl<T> Default for Linker<T> {
    fn default() -> Self {
        Linker { defs: HashMap::new(), _data: PhantomData }
    }
}

impl<T> std::fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker").field("definitions", &self.defs.len()).finish()
    }
}

/// One import, resolved.
pub(crate) enum Resolved {
    HostFunc(Arc<HostFunc>),
    Func(u32),
    Table(u32),
    Memory(u32),
    Global(u32),
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new() -> Linker<T> {
        Linker::default()
    }

    /// Defines a host function from a closure `Fn(A1, ..., An) -> R` or
    /// `Fn(Caller<'_, T>, A1, ..., An) -> R`, with `Ai` among `i32`, `i64`,
    /// `f32`, `f64`, `u128` (v128) and `R` one of those, `()`, a tuple of
    /// them, or a `Result<_, HostError>` of any of these.
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, Params, Results>,
    ) -> &mut Self {
        let host = f.into_host_func();
        self.insert(module, name, Definition::Host(Arc::new(host)))
    }

    /// Defines a host function of type `ty` working on [`Val`]s: it gets
    /// the arguments and fills the results (pre-set to zero values).
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), HostError> + Send + Sync + 'static,
    ) -> &mut Self {
        let func = move |store: &mut StoreOpaque, instance: Option<Instance>, args: &[Val], results: &mut [Val]| {
            f(Caller::new(store, instance), args, results)
        };
        let host = HostFunc { ty, func: HostFn::Dynamic(Box::new(func)) };
        self.insert(module, name, Definition::Host(Arc::new(host)))
    }

    /// Defines a host function of type `ty` whose parameters and results
    /// are all numbers (`i32`, `i64`, `f32`, `f64`, `v128`), working on the
    /// call's values array in place: it reads the arguments from
    /// [`RawValues`] and writes the results over them, with no [`Val`]s
    /// made, converted or checked per call. For hosts that keep values in
    /// their own form, as the C API does; any bits are a valid number, so
    /// this is safe.
    ///
    /// # Errors
    /// [`Error::Type`] if `ty` has a reference type.
    pub fn func_new_raw(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &mut RawValues<'_>) -> Result<(), HostError> + Send + Sync + 'static,
    ) -> Result<&mut Self, Error> {
        if let Some(t) = ty.params.iter().chain(&ty.results).find(|t| t.is_ref()) {
            return Err(Error::Type(format!(
                "{module}.{name}: a raw host function takes and returns numbers, not {t}"
            )));
        }
        let func = move |store: &mut StoreOpaque, instance: Option<Instance>, mut values: RawValues<'_>| {
            f(Caller::new(store, instance), &mut values)
        };
        let host = HostFunc { ty, func: HostFn::Typed(Box::new(func)) };
        Ok(self.insert(module, name, Definition::Host(Arc::new(host))))
    }

    /// Defines a store-bound item. Instantiating in another store with it
    /// fails with [`Error::WrongStore`].
    pub fn define(&mut self, module: &str, name: &str, item: impl Into<Extern>) -> &mut Self {
        self.insert(module, name, Definition::Extern(item.into()))
    }

    /// Defines every export of `instance` under `module_name`.
    pub fn instance(&mut self, store: impl AsContext, module_name: &str, instance: Instance) -> &mut Self {
        let store = store.as_context().0;
        for (name, item) in instance.exports(store) {
            self.define(module_name, &name, item);
        }
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition) -> &mut Self {
        self.defs.insert((module.to_string(), name.to_string()), def);
        self
    }

    /// Resolves every import of `module` in `store`, checking types.
    pub(crate) fn resolve(&self, store: &StoreOpaque, module: &Module) -> Result<Vec<Resolved>, Error> {
        module.imports().iter().map(|import| resolve_one(store, module, import, self.lookup(import)?)).collect()
    }

    /// Finds each import of `module` once, for an [`InstancePre`]; host
    /// functions' types are checked here, store items' when instantiating.
    ///
    /// # Errors
    /// [`Error::Link`] for a missing import or a host function of the wrong
    /// type.
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T>, Error> {
        let defs = module
            .imports()
            .iter()
            .map(|import| {
                let def = self.lookup(import)?;
                if let Definition::Host(host) = def {
                    check_host(module, import, host)?;
                }
                Ok(def.clone())
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(InstancePre { module: module.clone(), defs: defs.into(), _data: PhantomData })
    }

    fn lookup(&self, import: &Import) -> Result<&Definition, Error> {
        let key = (import.module.clone(), import.name.clone());
        self.defs.get(&key).ok_or_else(|| {
            LinkError::Missing { module: import.module.clone(), name: import.name.clone(), kind: import.ty.kind() }
                .into()
        })
    }
}

/// A module with its imports found in a [`Linker`] once: instantiating it
/// (fresh or in a pool) does no name lookups and no host-function type
/// checks. `Send + Sync`; cheap to clone.
pub struct InstancePre<T = ()> {
    module: Module,
    defs: Arc<[Definition]>,
    _data: PhantomData<fn() -> T>,
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre { module: self.module.clone(), defs: self.defs.clone(), _data: PhantomData }
    }
}

impl<T> std::fmt::Debug for InstancePre<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstancePre").field("imports", &self.defs.len()).finish()
    }
}

impl<T: 'static> InstancePre<T> {
    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The imports resolved in `store` (store items checked against it).
    pub(crate) fn resolve(&self, store: &StoreOpaque) -> Result<Vec<Resolved>, Error> {
        let imports = self.module.imports();
        let resolve = |(import, def): (&Import, &Definition)| match def {
            // Checked by `instantiate_pre`.
            Definition::Host(host) => Ok(Resolved::HostFunc(host.clone())),
            Definition::Extern(_) => resolve_one(store, &self.module, import, def),
        };
        imports.iter().zip(self.defs.iter()).map(resolve).collect()
    }
}

/// Checks a host function against the type `import` expects.
fn check_host(module: &Module, import: &Import, host: &HostFunc) -> Result<(), Error> {
    let ImportType::Func(t) = import.ty else { return Err(kind_mismatch(import, ExternKind::Func)) };
    let expected = &module.meta().types[t as usize];
    if host.ty != *expected {
        return Err(incompatible(import, format!("expected function type {expected}, found {}", host.ty)));
    }
    Ok(())
}

fn incompatible(import: &Import, reason: String) -> Error {
    LinkError::Incompatible { module: import.module.clone(), name: import.name.clone(), reason }.into()
}

fn kind_mismatch(import: &Import, found: ExternKind) -> Error {
    incompatible(import, format!("expected a {}, found a {}", import.ty.kind().name(), found.name()))
}

/// Resolves one import to `def` in `store`, checking types.
fn resolve_one(store: &StoreOpaque, module: &Module, import: &Import, def: &Definition) -> Result<Resolved, Error> {
    let incompatible = |reason: String| incompatible(import, reason);
    if let Definition::Extern(item) = def {
        store.check(item.store_id())?;
    }
    let meta = module.meta();
    match (import.ty, def) {
        (ImportType::Func(_), Definition::Host(host)) => {
            check_host(module, import, host)?;
            Ok(Resolved::HostFunc(host.clone()))
        }
        (ImportType::Func(t), Definition::Extern(Extern::Func(f))) => {
            let expected = &meta.types[t as usize];
            let found = &*store.func(f.index).ty;
            if found != expected {
                return Err(incompatible(format!("expected function type {expected}, found {found}")));
            }
            Ok(Resolved::Func(f.index))
        }
        (ImportType::Table(want), Definition::Extern(Extern::Table(t))) => {
            let data = &store.vm().tables()[t.index as usize];
            if data.ty.element != want.element {
                return Err(incompatible(format!(
                    "expected a table of {}, found one of {}",
                    want.element, data.ty.element
                )));
            }
            limits_match(
                u64::from(data.elements.len()),
                data.ty.max.map(u64::from),
                u64::from(want.min),
                want.max.map(u64::from),
            )
            .map_err(|why| incompatible(format!("table {why}")))?;
            Ok(Resolved::Table(t.index))
        }
        (ImportType::Memory(want), Definition::Extern(Extern::Memory(m))) => {
            let data = &store.vm().memories()[m.index as usize];
            limits_match(
                u64::from(data.memory.pages()),
                data.ty.max_pages.map(u64::from),
                u64::from(want.min_pages),
                want.max_pages.map(u64::from),
            )
            .map_err(|why| incompatible(format!("memory {why}")))?;
            if meta.bounds_checks == BoundsChecks::Guard && data.memory.mode() != BoundsChecks::Guard {
                return Err(incompatible(
                    "bounds-check mode: a module compiled with guard-page bounds checks cannot import a memory laid out for explicit checks".into(),
                ));
            }
            Ok(Resolved::Memory(m.index))
        }
        (ImportType::Global(want), Definition::Extern(Extern::Global(g))) => {
            let found = store.vm().globals()[g.index as usize].ty;
            if found != want {
                let show = |t: wasmc_abi::meta::GlobalType| format!("{}{}", if t.mutable { "mut " } else { "" }, t.ty);
                return Err(incompatible(format!("expected global {}, found {}", show(want), show(found))));
            }
            Ok(Resolved::Global(g.index))
        }
        (_, found) => {
            let found_kind = match found {
                Definition::Host(_) => ExternKind::Func,
                Definition::Extern(Extern::Func(_)) => ExternKind::Func,
                Definition::Extern(Extern::Table(_)) => ExternKind::Table,
                Definition::Extern(Extern::Memory(_)) => ExternKind::Memory,
                Definition::Extern(Extern::Global(_)) => ExternKind::Global,
            };
            Err(kind_mismatch(import, found_kind))
        }
    }
}

/// Spec limits matching: the actual size at least the required minimum,
/// and, if a maximum is required, an actual maximum no larger.
fn limits_match(size: u64, max: Option<u64>, want_min: u64, want_max: Option<u64>) -> Result<(), String> {
    if size < want_min {
        return Err(format!("has {size}, at least {want_min} required"));
    }
    if let Some(want_max) = want_max {
        match max {
            None => return Err(format!("has no maximum, at most {want_max} required")),
            Some(max) if max > want_max => return Err(format!("maximum {max} exceeds the required {want_max}")),
            Some(_) => {}
        }
    }
    Ok(())
}
