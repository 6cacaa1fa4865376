//! Process-wide canonical function type ids.
//!
//! `call_indirect` compares a `VMFuncRef::type_id` with the id of the type
//! it expects, so two modules must give structurally equal types the same
//! id. Every [`FuncType`] seen is interned here for the life of the process.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use wasmc_abi::meta::FuncType;

fn registry() -> &'static Mutex<HashMap<FuncType, u32>> {
    static REGISTRY: OnceLock<Mutex<HashMap<FuncType, u32>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The canonical id of `ty`, allocating one on first sight.
pub(crate) fn intern(ty: &FuncType) -> u32 {
    let mut map = registry().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&id) = map.get(ty) {
        return id;
    }
    let id = u32::try_from(map.len()).unwrap_or(u32::MAX);
    map.insert(ty.clone(), id);
    id
}
