//! [`ModuleInfo`]: what the vm layer reads of a loaded module. The public
//! `Module` implements it; the vm keeps a module only as an
//! `Arc<dyn ModuleInfo>` (the same allocation as the `Module`'s, so taking
//! one costs a reference count).

use std::fs::File;

use wasmc_abi::meta::{ImageRun, Lists, MappedLists, ModuleMeta};

use crate::vm::trap::VmError;

/// A loaded module, as segments, fuel charges, traps and pool slots see it.
pub(crate) trait ModuleInfo: Send + Sync + std::fmt::Debug {
    /// The module's metadata (segments, memories, fuel metering, imports).
    fn meta(&self) -> &ModuleMeta<MappedLists>;

    /// The per-function lists (trap sites, function names, code ranges),
    /// read in place.
    fn lists(&self) -> Lists<'_>;

    /// The data section's bytes.
    fn data_bytes(&self) -> &[u8];

    /// Address of the module's first byte of code.
    fn text_base(&self) -> usize;

    /// Whether `pc` lies in the module's code.
    fn contains_pc(&self, pc: usize) -> bool;

    /// The runs of the memory image, if the module has one and a file to
    /// map it from.
    fn memory_image(&self) -> Option<&[ImageRun]>;

    /// The file to map `run` from, and the run's offset in it.
    fn image_source(&self, run: &ImageRun) -> Result<(&File, u64), VmError>;
}
