//! Process-wide canonical function type ids, reference-counted.
//!
//! `call_indirect` compares a `VMFuncRef::type_id` with the id of the type
//! it expects, so two modules must give structurally equal types the same
//! id. Each loaded module holds a [`TypeIds`] for its types: the first
//! module with a type interns it, the last one dropped frees the entry and
//! its id, which a later type may reuse. Loading and dropping untrusted
//! modules thus leaves the registry as it found it.
//!
//! Reuse is safe because every holder of an id holds the module it came
//! from: ids are written only into funcrefs and `VMContext`s of instances
//! of that module (an imported host function gets the importing module's
//! id), and a store keeps a clone of the module of each of its instances,
//! a pool one of its module, until they are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use wasmc_abi::meta::FuncType;

use crate::error::LoadError;

#[derive(Default)]
struct Registry {
    /// The id of each interned type.
    ids: HashMap<Arc<FuncType>, u32>,
    /// Indexed by id: the type and how many `TypeIds` entries name it;
    /// `None` for a free id.
    entries: Vec<Option<(Arc<FuncType>, usize)>>,
    /// Ids of `None` entries, for reuse.
    free: Vec<u32>,
}

impl Registry {
    fn intern(&mut self, ty: &FuncType) -> Result<u32, LoadError> {
        if let Some(&id) = self.ids.get(ty) {
            if let Some((_, refs)) = &mut self.entries[id as usize] {
                *refs += 1;
            }
            return Ok(id);
        }
        let ty = Arc::new(ty.clone());
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.entries.len())
                    .map_err(|_| LoadError::Corrupt("more distinct function types are loaded than ids exist".into()))?;
                self.entries.push(None);
                id
            }
        };
        self.entries[id as usize] = Some((Arc::clone(&ty), 1));
        self.ids.insert(ty, id);
        Ok(id)
    }

    fn release(&mut self, id: u32) {
        let Some(entry) = self.entries.get_mut(id as usize) else { return };
        let Some((ty, refs)) = entry else { return };
        *refs -= 1;
        if *refs == 0 {
            self.ids.remove(&**ty);
            *entry = None;
            self.free.push(id);
        }
    }
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    // A panic while the lock is held cannot leave the maps inconsistent
    // with each other in a way later calls rely on (each update is
    // completed before the next begins), so a poisoned lock is used as is.
    REGISTRY.get_or_init(Mutex::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The canonical ids of a module's types, in the module's order; holding
/// it keeps them reserved, and dropping it releases them.
#[derive(Debug)]
pub(crate) struct TypeIds {
    ids: Box<[u32]>,
}

impl TypeIds {
    /// Interns each of `types`, giving equal types equal ids.
    pub(crate) fn intern(types: &[FuncType]) -> Result<TypeIds, LoadError> {
        let mut registry = registry();
        let mut ids = Vec::with_capacity(types.len());
        for ty in types {
            match registry.intern(ty) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    ids.iter().for_each(|&id| registry.release(id));
                    return Err(e);
                }
            }
        }
        Ok(TypeIds { ids: ids.into_boxed_slice() })
    }

    pub(crate) fn as_slice(&self) -> &[u32] {
        &self.ids
    }
}

impl Drop for TypeIds {
    fn drop(&mut self) {
        let mut registry = registry();
        self.ids.iter().for_each(|&id| registry.release(id));
    }
}

/// How many distinct function types are interned now (for tests that check
/// that loading and dropping modules leaves nothing behind).
pub(crate) fn interned_count() -> usize {
    registry().ids.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmc_abi::meta::ValType;

    fn ty(params: &[ValType]) -> FuncType {
        FuncType { params: params.to_vec(), results: vec![ValType::I32, ValType::F64, ValType::V128] }
    }

    #[test]
    fn equal_types_share_an_id_until_the_last_holder_is_dropped() {
        // Other tests of this crate load modules concurrently: look only at
        // types no loaded module can have (three results, unusual params).
        let (a, b) = (ty(&[ValType::V128; 5]), ty(&[ValType::ExternRef; 5]));
        let first = TypeIds::intern(&[a.clone(), b.clone(), a.clone()]).unwrap();
        let ids = first.as_slice().to_vec();
        assert_eq!(ids[0], ids[2]);
        assert_ne!(ids[0], ids[1]);
        let second = TypeIds::intern(std::slice::from_ref(&a)).unwrap();
        assert_eq!(second.as_slice(), &ids[..1]);
        drop(first);
        // `a` is still held by `second`: its id is not free, and a new
        // type does not get it.
        assert!(registry().ids.get(&a).is_some_and(|&id| id == ids[0]));
        assert!(!registry().ids.contains_key(&b));
        let other = TypeIds::intern(&[ty(&[ValType::FuncRef; 5])]).unwrap();
        assert_ne!(other.as_slice()[0], ids[0]);
        drop(second);
        assert!(!registry().ids.contains_key(&a));
        drop(other);
    }
}
