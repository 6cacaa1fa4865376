//! [`Module`]: a checked artifact with its code mapped executable.
//!
//! `from_file` maps the file privately and read-only, and its text pages
//! (64 KiB aligned in the file) a second time, read-execute, without
//! copying the code or changing a protection later (each `mprotect` of
//! touched pages flushes TLBs); `from_bytes` first copies the bytes into a
//! sealed in-memory file and does the same with it (where the system
//! refuses in-memory files, into an anonymous mapping, and instances then
//! copy data segments instead of mapping the memory image). When executing
//! from the file is impossible (a `noexec` file system), the code is
//! copied into an anonymous mapping. The metadata's per-function lists are
//! read in place from the mapping, so loading does not grow with the
//! number of functions.
//! The module keeps the file open: instances map their memory image
//! (64 KiB aligned in the file) copy-on-write from it. The code range is
//! registered with the signal handler's registry until the last clone of
//! the module is dropped.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use wasmc_abi::meta::{
    DataMode, ExportRef, FuncDef, FuncOrigin, FuncType, ImageRun, Import, Lists, MappedLists, MetaError, ModuleMeta,
};

use crate::artifact::{self, Checksum, FileRange, Parsed};
use crate::error::{Error, LoadError};
use crate::load_options::LoadOptions;
use crate::signature::TrustedKeys;
use crate::types::TypeIds;
use crate::vm::module_info::ModuleInfo;
use crate::vm::registry;
use crate::vm::sys::unix::memfd;
use crate::vm::sys::unix::mmap::{page_size, round_up_to_page, Mmap, Protection};
use crate::vm::sys::unix::unwind::wasmc_flush_icache;
use crate::vm::trap::VmError;

/// A compiled module, ready to instantiate. Cheap to clone, `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

#[derive(Debug)]
pub(crate) struct ModuleInner {
    meta: ModuleMeta<MappedLists>,
    /// Where `meta`'s lists are read from: the encoded metadata in `image`.
    encoded_meta: FileRange,
    /// The whole file, read-only (the code runs from `_text`).
    image: Mmap,
    /// The file `image` maps (the artifact, or an in-memory copy), from
    /// which instances map their memory images; `None` when the system
    /// refused an in-memory file (then segments are copied).
    file: Option<File>,
    /// The code: mapped read-execute from `file`, or copied where that is
    /// refused (a `noexec` file system, no file).
    _text: Option<Mmap>,
    text_base: usize,
    text_len: usize,
    data: FileRange,
    memory_image: FileRange,
    /// Bytes of all active data segments.
    active_data_bytes: u64,
    /// Canonical type id of each of the module's types, reserved until
    /// the module is dropped.
    type_ids: TypeIds,
    /// Each of the module's types, shared by the store entries of its
    /// functions (so instantiation clones no type).
    func_types: Box<[Arc<FuncType>]>,
    /// Whether every function record is consistent (see
    /// `Module::defined_funcs`), once an instantiation has asked.
    funcs_checked: OnceLock<Result<(), String>>,
}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        if self.text_len != 0 {
            registry::unregister(self.text_base);
        }
    }
}

fn io_error(path: &Path, source: std::io::Error) -> LoadError {
    LoadError::Io { path: path.to_path_buf(), source }
}

impl Module {
    /// Whether `other` is this module (a clone of the same load).
    pub(crate) fn same_as(&self, other: &Module) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Loads an artifact from a file, running every check including the
    /// checksum.
    ///
    /// The path must name a regular file no larger than
    /// [`DEFAULT_MAX_ARTIFACT_BYTES`](crate::DEFAULT_MAX_ARTIFACT_BYTES)
    /// ([`LoadOptions`] sets another limit); anything else is refused before
    /// it is mapped. The file must not be written in place while the module
    /// is loaded: its pages are mapped, not copied. Replace an artifact by
    /// writing a new file and renaming it over the old one (as `wasmc
    /// compile` and [`files::replace`](wasmc_artifact::files::replace) do): the
    /// loaded module keeps the old file.
    ///
    /// # Safety
    /// An artifact is native code that will run in this process. The checks
    /// (format, checksum, architecture, CPU features) catch damage and
    /// mismatches, not forgery: a file crafted to look like an artifact can
    /// do anything the process can. Load only artifacts whose origin you
    /// trust, such as those your own build pipeline compiled with wasmc.
    pub unsafe fn from_file(path: impl AsRef<Path>) -> Result<Module, LoadError> {
        // SAFETY: the caller vouches for the artifact, as this function requires.
        unsafe { LoadOptions::default().load_file(path) }
    }

    /// Like [`Module::from_file`] but skips the checksum (the only check
    /// skipped), saving one pass over the file.
    ///
    /// # Safety
    /// As for [`Module::from_file`]; in addition the caller vouches for the
    /// file's integrity: a damaged file whose metadata still decodes may make
    /// the loaded code misbehave.
    pub unsafe fn from_file_trusted(path: impl AsRef<Path>) -> Result<Module, LoadError> {
        // SAFETY: the caller vouches for the artifact and its integrity, as
        // this function requires.
        unsafe { LoadOptions::default().load_file_trusted(path) }
    }

    /// Loads an artifact from bytes in memory (they are copied), running
    /// every check including the checksum.
    ///
    /// # Safety
    /// As for [`Module::from_file`]: the bytes must come from a source you
    /// trust to have produced them with wasmc.
    pub unsafe fn from_bytes(bytes: &[u8]) -> Result<Module, LoadError> {
        Module::copy_and_load(bytes, Checksum::Verify)
    }

    /// Loads an artifact from a file, accepting it only if it carries a
    /// valid signature by one of `keys` (see `wasmc compile --sign`), after
    /// every check of [`Module::from_file`].
    ///
    /// The file is read into memory once and every check and the code run
    /// on that copy, so a file changed or truncated by someone else during
    /// or after loading cannot change what runs: artifacts can come from a
    /// cache or a network share that is not itself trusted. Before reading
    /// it, the open file must be a regular file no larger than the limit
    /// ([`LoadOptions::max_artifact_bytes`], 1 GiB by default) whose ELF
    /// header passes; then exactly its length is read, and a file that
    /// changed size meanwhile is refused.
    ///
    /// # Errors
    /// [`LoadError::Unsigned`], [`LoadError::UntrustedKey`] or
    /// [`LoadError::BadSignature`] when the signature does not prove origin,
    /// [`LoadError::NotRegularFile`], [`LoadError::TooLarge`], and every
    /// error of [`Module::from_file`].
    ///
    /// # What this assumes
    /// This function is safe because a valid signature proves that the file
    /// is byte for byte one that a holder of a trusted secret key signed.
    /// Soundness then rests on: (1) holders of trusted keys sign only
    /// artifacts that the wasmc compiler produced (from any wasm module,
    /// trusted or not: the sandbox is the compiler's and loader's job);
    /// (2) the secret keys have not leaked; (3) wasmc itself (compiler and
    /// loader of the same format version) is free of sandbox bugs.
    pub fn from_file_signed(path: impl AsRef<Path>, keys: &TrustedKeys) -> Result<Module, LoadError> {
        LoadOptions::default().load_file_signed(path, keys)
    }

    /// Like [`Module::from_file_signed`], for bytes in memory (they are
    /// copied). The same assumptions make it safe.
    pub fn from_bytes_signed(bytes: &[u8], keys: &TrustedKeys) -> Result<Module, LoadError> {
        Module::copy_and_load(bytes, Checksum::Signed(keys))
    }

    fn copy_and_load(bytes: &[u8], checksum: Checksum<'_>) -> Result<Module, LoadError> {
        if bytes.is_empty() {
            return Err(LoadError::NotElf("the file is empty".into()));
        }
        let parsed = artifact::parse(bytes, checksum)?;
        // The checks ran on `bytes`; what runs is this sealed copy of them,
        // which nobody can change any more. Where in-memory files are not
        // allowed (a seccomp filter), an anonymous copy does, without
        // memory images.
        if let Ok(file) = memfd::sealed_copy(c"wasmc-artifact", bytes) {
            let image = Mmap::file_private(&file, bytes.len()).map_err(LoadError::Map)?;
            return Module::from_image(image, Some(file), parsed);
        }
        let image = Mmap::anonymous(bytes.len()).map_err(LoadError::Map)?;
        // SAFETY: the mapping is fresh, read-write and `bytes.len()` long, and
        // nothing else refers to it yet.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), image.as_ptr(), bytes.len()) };
        let whole = round_up_to_page(image.len()).unwrap_or(image.len());
        image.protect(0, whole, Protection::Read).map_err(LoadError::Map)?;
        Module::from_image(image, None, parsed)
    }

    /// Maps and loads `file` (opened from `path` and checked by
    /// `LoadOptions`: a regular file of `len` bytes).
    pub(crate) fn map_file(path: &Path, file: File, len: u64, checksum: Checksum) -> Result<Module, LoadError> {
        let len = usize::try_from(len).map_err(|_| LoadError::Corrupt("file too large".into()))?;
        if len == 0 {
            return Err(LoadError::NotElf("the file is empty".into()));
        }
        let image = Mmap::file_private(&file, len).map_err(|e| io_error(path, e))?;
        // SAFETY: the private mapping is readable, and we never write to it.
        // (Another process truncating the file would fault; documented above.)
        let parsed = artifact::parse(unsafe { image.as_slice() }, checksum)?;
        Module::from_image(image, Some(file), parsed)
    }

    fn from_image(image: Mmap, file: Option<File>, parsed: Parsed) -> Result<Module, LoadError> {
        let Parsed { meta, encoded_meta, text, data, image: memory_image, .. } = parsed;
        let (text_base, text_mapping) = map_text(&image, file.as_ref(), text)?;
        let type_ids = TypeIds::intern(&meta.types)?;
        let func_types = meta.types.iter().cloned().map(Arc::new).collect();
        let active_data_bytes =
            meta.data.iter().filter(|d| matches!(d.mode, DataMode::Active { .. })).map(|d| u64::from(d.len)).sum();
        registry::register(text_base, text.len);
        let inner = ModuleInner {
            meta,
            encoded_meta,
            image,
            file,
            _text: text_mapping,
            text_base,
            text_len: text.len,
            data,
            memory_image,
            active_data_bytes,
            type_ids,
            func_types,
            funcs_checked: OnceLock::new(),
        };
        Ok(Module { inner: Arc::new(inner) })
    }

    /// The module's metadata; its per-function lists are read in place by
    /// [`Module::lists`].
    pub(crate) fn meta(&self) -> &ModuleMeta<MappedLists> {
        &self.inner.meta
    }

    /// The module's functions, exports, trap sites and function names, read
    /// in place from the artifact.
    pub(crate) fn lists(&self) -> Lists<'_> {
        self.inner.lists()
    }

    /// The module's imports, in order.
    pub fn imports(&self) -> &[Import] {
        &self.inner.meta.imports
    }

    /// The module's exports, in module order.
    pub fn exports(&self) -> impl Iterator<Item = ExportRef<'_>> {
        self.lists().exports()
    }

    /// The export named `name`, if any (a binary search).
    pub fn export(&self, name: &str) -> Option<ExportRef<'_>> {
        self.lists().export_named(name)
    }

    /// The type of function `index` (imports first), if it exists.
    pub fn func_type_of(&self, index: u32) -> Option<&FuncType> {
        let type_index = match self.inner.meta.func_origin(index) {
            FuncOrigin::Imported { type_index } => type_index,
            FuncOrigin::Defined(i) => self.lists().func(i as usize)?.type_index,
        };
        self.inner.func_types.get(type_index as usize).map(|t| &**t)
    }

    /// Whether the module was compiled to count fuel
    /// (`wasmc compile --fuel-metering`): only such code stops when a store's fuel
    /// ([`Store::set_fuel`](crate::Store::set_fuel)) runs out.
    pub fn fuel_metering(&self) -> bool {
        self.inner.meta.fuel_metering
    }

    /// Bytes of machine code.
    pub fn text_size(&self) -> usize {
        self.inner.text_len
    }

    /// Bytes of data-segment contents.
    pub fn data_size(&self) -> usize {
        self.inner.data.len
    }

    /// Address of the code at text `offset` (validated by the metadata).
    pub(crate) fn code_at(&self, offset: u32) -> *const u8 {
        (self.inner.text_base + offset as usize) as *const u8
    }

    pub(crate) fn type_ids(&self) -> &[u32] {
        self.inner.type_ids.as_slice()
    }

    /// Type `index` of the module (validated by the metadata).
    pub(crate) fn func_type(&self, index: u32) -> &Arc<FuncType> {
        &self.inner.func_types[index as usize]
    }

    /// The runs of the defined memories' initial contents, if the module
    /// has a memory image (see `ModuleMeta::memory_image`) and a file to
    /// map it from.
    pub(crate) fn memory_image(&self) -> Option<&[ImageRun]> {
        self.inner.memory_image()
    }

    /// Whether a pool maps the memory image into its slots, given the
    /// smallest amount of active data worth the mappings: the module has
    /// a non-empty image and at least `min_bytes` of active data.
    pub(crate) fn maps_image(&self, min_bytes: usize) -> bool {
        self.memory_image().is_some_and(|runs| !runs.is_empty()) && self.inner.active_data_bytes >= min_bytes as u64
    }

    /// The defined functions in index order, once checked as
    /// `ModuleMeta::validate` checks them (each type exists, each code range
    /// lies in the text). The check reads every record once, at the first
    /// instantiation, and is remembered.
    pub(crate) fn defined_funcs(&self) -> Result<impl Iterator<Item = FuncDef> + Clone + '_, Error> {
        let lists = self.lists();
        let checked = self.inner.funcs_checked.get_or_init(|| {
            let fits = |f: FuncDef| {
                (f.type_index as usize) < self.inner.meta.types.len()
                    && u64::from(f.code_offset) + u64::from(f.code_len) <= self.inner.text_len as u64
            };
            match (0..lists.funcs_len()).find(|&j| !lists.func(j).is_some_and(fits)) {
                Some(j) => Err(format!("defined function {j} is missing, or its type or code lies outside the module")),
                None => Ok(()),
            }
        });
        if let Err(what) = checked {
            return Err(LoadError::Metadata(MetaError { what: what.clone(), offset: None }).into());
        }
        Ok((0..lists.funcs_len()).map_while(move |j| lists.func(j)))
    }

    /// The module as the vm layer keeps it: the same allocation, so this
    /// costs a reference count.
    pub(crate) fn info(&self) -> Arc<dyn ModuleInfo> {
        self.inner.clone()
    }

    /// The module as the vm layer reads it, borrowed.
    pub(crate) fn as_info(&self) -> &dyn ModuleInfo {
        &*self.inner
    }
}

impl ModuleInner {
    /// Bytes of the artifact file (`range` was checked against the file by
    /// `artifact::parse`).
    fn file_range(&self, range: FileRange) -> &[u8] {
        // SAFETY: the image is a read-only mapping of the whole file, and
        // nothing writes to it.
        let image = unsafe { self.image.as_slice() };
        &image[range.offset..range.end()]
    }
}

impl ModuleInfo for ModuleInner {
    fn meta(&self) -> &ModuleMeta<MappedLists> {
        &self.meta
    }

    fn lists(&self) -> Lists<'_> {
        self.meta.lists.view(self.file_range(self.encoded_meta))
    }

    fn data_bytes(&self) -> &[u8] {
        self.file_range(self.data)
    }

    fn text_base(&self) -> usize {
        self.text_base
    }

    fn contains_pc(&self, pc: usize) -> bool {
        pc >= self.text_base && pc < self.text_base + self.text_len
    }

    fn memory_image(&self) -> Option<&[ImageRun]> {
        self.file.as_ref().and(self.meta.memory_image.as_deref())
    }

    fn image_source(&self, run: &ImageRun) -> Result<(&File, u64), VmError> {
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| VmError::resource("the module has no file to map its memory image from"))?;
        Ok((file, self.memory_image.offset as u64 + run.image_offset))
    }
}

/// Maps the text read-execute straight from `file`, or copies it into its
/// own mapping. Returns the text's address and its mapping, if one was
/// made.
fn map_text(image: &Mmap, file: Option<&File>, text: FileRange) -> Result<(usize, Option<Mmap>), LoadError> {
    if text.len == 0 {
        return Ok((image.as_ptr() as usize + text.offset, None));
    }
    if let Some(file) = file.filter(|_| text.offset % page_size() == 0) {
        if let Ok(mapped) = Mmap::file_exec(file, text.offset as u64, text.len) {
            return Ok((mapped.as_ptr() as usize, Some(mapped)));
        }
    }
    let rounded = round_up_to_page(text.len).ok_or_else(|| LoadError::Corrupt("text too large".into()))?;
    let copy = Mmap::anonymous(text.len).map_err(LoadError::Map)?;
    // SAFETY: `text` lies inside the image (checked by `artifact::parse`)
    // and the fresh copy is `text.len` bytes, read-write, unshared.
    unsafe {
        std::ptr::copy_nonoverlapping(image.as_ptr().add(text.offset), copy.as_ptr(), text.len);
        wasmc_flush_icache(copy.as_ptr(), text.len);
    }
    copy.protect(0, rounded, Protection::ReadExec).map_err(LoadError::Map)?;
    Ok((copy.as_ptr() as usize, Some(copy)))
}
