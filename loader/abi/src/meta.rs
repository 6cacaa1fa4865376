//! Module metadata: everything the loader needs besides the machine code,
//! and its binary encoding (little-endian integers, `u32` length prefixes).
//!
//! The compiler builds a [`ModuleMeta`] and calls [`ModuleMeta::encode`];
//! the loader calls [`ModuleMeta::decode`], which checks every length
//! against the input and never panics on bad bytes. Cross-references
//! (indices, code offsets, data ranges) are checked by
//! [`ModuleMeta::validate`].

use crate::{BoundsChecks, TrapKind};

/// A WebAssembly value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `v128`
    V128,
    /// `funcref`
    FuncRef,
    /// `externref`
    ExternRef,
}

impl ValType {
    /// The name in the text format.
    pub fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        }
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }

    fn code(self) -> u8 {
        match self {
            ValType::I32 => 0,
            ValType::I64 => 1,
            ValType::F32 => 2,
            ValType::F64 => 3,
            ValType::V128 => 4,
            ValType::FuncRef => 5,
            ValType::ExternRef => 6,
        }
    }

    fn from_code(code: u8) -> Option<ValType> {
        Some(match code {
            0 => ValType::I32,
            1 => ValType::I64,
            2 => ValType::F32,
            3 => ValType::F64,
            4 => ValType::V128,
            5 => ValType::FuncRef,
            6 => ValType::ExternRef,
            _ => return None,
        })
    }
}

impl core::fmt::Display for ValType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A function type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FuncType {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

impl core::fmt::Display for FuncType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let list = |v: &[ValType]| v.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ");
        write!(f, "({}) -> ({})", list(&self.params), list(&self.results))
    }
}

/// A table type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// `FuncRef` or `ExternRef`.
    pub element: ValType,
    /// Initial elements.
    pub min: u32,
    /// Maximum elements, if declared.
    pub max: Option<u32>,
}

/// A memory type (32-bit, not shared: Wasm 2.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    /// Initial pages.
    pub min_pages: u32,
    /// Maximum pages, if declared.
    pub max_pages: Option<u32>,
}

/// A global type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    /// Value type.
    pub ty: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

/// A constant expression (Wasm 2.0 allows exactly one instruction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstExpr {
    /// `i32.const`
    I32(i32),
    /// `i64.const`
    I64(i64),
    /// `f32.const`, as bits.
    F32(u32),
    /// `f64.const`, as bits.
    F64(u64),
    /// `v128.const`, little-endian.
    V128(u128),
    /// `global.get` of an (imported) global.
    GlobalGet(u32),
    /// `ref.null` of `FuncRef` or `ExternRef`.
    RefNull(ValType),
    /// `ref.func`.
    RefFunc(u32),
}

/// What an import or export refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A memory.
    Memory,
    /// A global.
    Global,
}

impl ExternKind {
    /// The name in the text format.
    pub fn name(self) -> &'static str {
        match self {
            ExternKind::Func => "func",
            ExternKind::Table => "table",
            ExternKind::Memory => "memory",
            ExternKind::Global => "global",
        }
    }
}

/// The type of an import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportType {
    /// A function of this type index.
    Func(u32),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

impl ImportType {
    /// The kind of entity imported.
    pub fn kind(&self) -> ExternKind {
        match self {
            ImportType::Func(_) => ExternKind::Func,
            ImportType::Table(_) => ExternKind::Table,
            ImportType::Memory(_) => ExternKind::Memory,
            ImportType::Global(_) => ExternKind::Global,
        }
    }
}

/// One import, in module order. Each kind's imports take the first indices
/// of that kind's index space, in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What is imported.
    pub ty: ImportType,
}

/// One export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// What is exported.
    pub kind: ExternKind,
    /// Index in that kind's index space (imports included).
    pub index: u32,
}

/// A function the module defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncDef {
    /// Type index.
    pub type_index: u32,
    /// Offset of its code in the text section.
    pub code_offset: u32,
    /// Length of its code.
    pub code_len: u32,
    /// Offset of its body in the wasm binary (for trap locations).
    pub wasm_offset: u32,
}

/// A global the module defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalDef {
    /// Its type.
    pub ty: GlobalType,
    /// Its initial value.
    pub init: ConstExpr,
}

/// Where an element segment goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemMode {
    /// Copied into `table` at `offset` during instantiation, then dropped.
    Active {
        /// Table index.
        table: u32,
        /// `I32` or `GlobalGet`.
        offset: ConstExpr,
    },
    /// Available to `table.init` until `elem.drop`.
    Passive,
    /// Only declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// An element segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElemSegment {
    /// Where it goes.
    pub mode: ElemMode,
    /// `FuncRef` or `ExternRef`.
    pub ty: ValType,
    /// Each item's value: `RefFunc`, `RefNull` or `GlobalGet`.
    pub items: Vec<ConstExpr>,
}

/// Where a data segment goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataMode {
    /// Copied into `memory` at `offset` during instantiation, then dropped.
    Active {
        /// Memory index.
        memory: u32,
        /// `I32` or `GlobalGet`.
        offset: ConstExpr,
    },
    /// Available to `memory.init` until `data.drop`.
    Passive,
}

/// A data segment; its bytes are a range of the data section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataSegment {
    /// Where it goes.
    pub mode: DataMode,
    /// Start of its bytes in the data section.
    pub data_offset: u32,
    /// Number of bytes.
    pub len: u32,
}

/// A run of a defined memory's initial contents, stored in the artifact's
/// image section ([`crate::artifact::SECTION_IMAGE`]). Offsets and length
/// are multiples of [`crate::artifact::IMAGE_ALIGN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageRun {
    /// Defined memory index (imported memories excluded).
    pub memory: u32,
    /// Where the run starts in the memory.
    pub memory_offset: u64,
    /// Where its bytes start in the image section.
    pub image_offset: u64,
    /// Bytes (non-zero).
    pub len: u64,
}

/// The trampolines compiled for one type index.
///
/// `entry` is the host-to-wasm trampoline, an `extern "C"` function
/// `(callee_code, callee_vmctx, caller_vmctx, values: *mut [u8; 16])`: it
/// reads the arguments from `values`, calls `callee_code` with the wasm
/// convention, and writes the results back to `values`.
///
/// `host` is the wasm-to-host trampoline: a function with the wasm
/// convention for this type whose callee vmctx is a `VMHostFuncContext`;
/// it spills the arguments into a values array, calls the entry point at
/// [`crate::vmctx::HOST_CTX_FUNC`], and returns the results from the array.
/// Present for the types of imported functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeTrampolines {
    /// Text offset of the host-to-wasm trampoline.
    pub entry: u32,
    /// Text offset of the wasm-to-host trampoline, if compiled.
    pub host: Option<u32>,
}

/// One instruction that may trap, from the compiler's trap table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrapSite {
    /// Offset of the instruction in the text section.
    pub code_offset: u32,
    /// Why it traps.
    pub kind: TrapKind,
    /// Offset in the wasm binary of the operator it came from.
    pub wasm_offset: u32,
}

/// Everything about the compiled module that is not machine code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleMeta {
    /// The wasmc release that wrote the artifact (informational only).
    pub compiler_version: String,
    /// Target triple, e.g. `x86_64-unknown-linux-gnu`.
    pub triple: String,
    /// Target preset name, e.g. `graviton3` (informational).
    pub preset: String,
    /// CPU features the code requires of the host, in `targets` names.
    pub cpu_features: Vec<String>,
    /// Bounds-check mode.
    pub bounds_checks: BoundsChecks,
    /// `none`, `speed` or `size`.
    pub opt_level: String,
    /// Module name from the name section, if any.
    pub name: Option<String>,
    /// Function types, by type index.
    pub types: Vec<FuncType>,
    /// Imports, in order.
    pub imports: Vec<Import>,
    /// Defined functions, in index order after the imported ones.
    pub funcs: Vec<FuncDef>,
    /// Defined tables.
    pub tables: Vec<TableType>,
    /// Defined memories.
    pub memories: Vec<MemoryType>,
    /// Defined globals.
    pub globals: Vec<GlobalDef>,
    /// Exports.
    pub exports: Vec<Export>,
    /// Start function index.
    pub start: Option<u32>,
    /// Element segments, by index.
    pub elements: Vec<ElemSegment>,
    /// Data segments, by index.
    pub data: Vec<DataSegment>,
    /// Trampolines, by type index.
    pub trampolines: Vec<TypeTrampolines>,
    /// Trap sites, sorted by `code_offset`.
    pub traps: Vec<TrapSite>,
    /// Function names from the name section: `(function index, name)`,
    /// sorted by index.
    pub func_names: Vec<(u32, String)>,
    /// The code counts executed operators against the store's fuel
    /// (`VMRuntimeLimits::fuel`) and traps when it runs out.
    pub fuel_metering: bool,
    /// The defined memories' contents right after instantiation, when
    /// applying the active data segments can neither trap nor depend on
    /// imports (every one targets a defined memory at a constant offset
    /// within its initial size): runs sorted by memory then offset, not
    /// overlapping; every byte outside them is zero. The loader maps the
    /// runs copy-on-write instead of copying segments. `None`: the active
    /// segments are applied at each instantiation.
    pub memory_image: Option<Vec<ImageRun>>,
}

/// Why metadata bytes could not be decoded or are inconsistent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaError {
    /// What was being read or checked.
    pub what: String,
    /// Byte offset in the encoded metadata, if the error is about decoding.
    pub offset: Option<usize>,
}

impl core::fmt::Display for MetaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.offset {
            Some(off) => write!(f, "bad metadata at byte {off}: {}", self.what),
            None => write!(f, "inconsistent metadata: {}", self.what),
        }
    }
}

fn inconsistent(what: impl Into<String>) -> MetaError {
    MetaError { what: what.into(), offset: None }
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("metadata list longer than u32::MAX"));
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.out.extend_from_slice(s.as_bytes());
    }
    fn opt_u32(&mut self, v: Option<u32>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u32(v);
            }
        }
    }
    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.len(items.len());
        for item in items {
            each(self, item);
        }
    }
    fn val_type(&mut self, t: ValType) {
        self.u8(t.code());
    }
    fn const_expr(&mut self, e: &ConstExpr) {
        match *e {
            ConstExpr::I32(v) => {
                self.u8(0);
                self.u32(v as u32);
            }
            ConstExpr::I64(v) => {
                self.u8(1);
                self.u64(v as u64);
            }
            ConstExpr::F32(v) => {
                self.u8(2);
                self.u32(v);
            }
            ConstExpr::F64(v) => {
                self.u8(3);
                self.u64(v);
            }
            ConstExpr::V128(v) => {
                self.u8(4);
                self.out.extend_from_slice(&v.to_le_bytes());
            }
            ConstExpr::GlobalGet(i) => {
                self.u8(5);
                self.u32(i);
            }
            ConstExpr::RefNull(t) => {
                self.u8(6);
                self.val_type(t);
            }
            ConstExpr::RefFunc(i) => {
                self.u8(7);
                self.u32(i);
            }
        }
    }
    fn table_type(&mut self, t: &TableType) {
        self.val_type(t.element);
        self.u32(t.min);
        self.opt_u32(t.max);
    }
    fn memory_type(&mut self, m: &MemoryType) {
        self.u32(m.min_pages);
        self.opt_u32(m.max_pages);
    }
    fn global_type(&mut self, g: &GlobalType) {
        self.val_type(g.ty);
        self.u8(u8::from(g.mutable));
    }
    fn extern_kind(&mut self, k: ExternKind) {
        self.u8(match k {
            ExternKind::Func => 0,
            ExternKind::Table => 1,
            ExternKind::Memory => 2,
            ExternKind::Global => 3,
        });
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err<T>(&self, what: &str) -> Result<T, MetaError> {
        Err(MetaError { what: what.to_string(), offset: Some(self.pos) })
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], MetaError> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.bytes.len() => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => self.err(&format!("{what}: unexpected end of metadata")),
        }
    }
    fn u8(&mut self, what: &str) -> Result<u8, MetaError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, MetaError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, MetaError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bool(&mut self, what: &str) -> Result<bool, MetaError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => self.err(&format!("{what}: flag is neither 0 nor 1")),
        }
    }
    /// A list length, checked against the bytes left (each item takes at
    /// least `min_item` bytes), so a corrupt length cannot make us allocate.
    fn len(&mut self, min_item: usize, what: &str) -> Result<usize, MetaError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_item.max(1)) > self.bytes.len() - self.pos {
            return self.err(&format!("{what}: length {n} exceeds the metadata"));
        }
        Ok(n)
    }
    fn str(&mut self, what: &str) -> Result<String, MetaError> {
        let n = self.len(1, what)?;
        let bytes = self.take(n, what)?;
        match core::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => self.err(&format!("{what}: not UTF-8")),
        }
    }
    fn opt_u32(&mut self, what: &str) -> Result<Option<u32>, MetaError> {
        Ok(if self.bool(what)? { Some(self.u32(what)?) } else { None })
    }
    fn list<T>(
        &mut self,
        min_item: usize,
        what: &str,
        mut each: impl FnMut(&mut Self) -> Result<T, MetaError>,
    ) -> Result<Vec<T>, MetaError> {
        let n = self.len(min_item, what)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(each(self)?);
        }
        Ok(out)
    }
    fn val_type(&mut self, what: &str) -> Result<ValType, MetaError> {
        let code = self.u8(what)?;
        match ValType::from_code(code) {
            Some(t) => Ok(t),
            None => self.err(&format!("{what}: unknown value type {code}")),
        }
    }
    fn ref_type(&mut self, what: &str) -> Result<ValType, MetaError> {
        let t = self.val_type(what)?;
        if !t.is_ref() {
            return self.err(&format!("{what}: {t} is not a reference type"));
        }
        Ok(t)
    }
    fn const_expr(&mut self, what: &str) -> Result<ConstExpr, MetaError> {
        Ok(match self.u8(what)? {
            0 => ConstExpr::I32(self.u32(what)? as i32),
            1 => ConstExpr::I64(self.u64(what)? as i64),
            2 => ConstExpr::F32(self.u32(what)?),
            3 => ConstExpr::F64(self.u64(what)?),
            4 => {
                let b = self.take(16, what)?;
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                ConstExpr::V128(u128::from_le_bytes(a))
            }
            5 => ConstExpr::GlobalGet(self.u32(what)?),
            6 => ConstExpr::RefNull(self.ref_type(what)?),
            7 => ConstExpr::RefFunc(self.u32(what)?),
            other => return self.err(&format!("{what}: unknown constant expression {other}")),
        })
    }
    fn table_type(&mut self) -> Result<TableType, MetaError> {
        Ok(TableType {
            element: self.ref_type("table element type")?,
            min: self.u32("table minimum")?,
            max: self.opt_u32("table maximum")?,
        })
    }
    fn memory_type(&mut self) -> Result<MemoryType, MetaError> {
        Ok(MemoryType { min_pages: self.u32("memory minimum")?, max_pages: self.opt_u32("memory maximum")? })
    }
    fn global_type(&mut self) -> Result<GlobalType, MetaError> {
        Ok(GlobalType { ty: self.val_type("global type")?, mutable: self.bool("global mutability")? })
    }
    fn extern_kind(&mut self, what: &str) -> Result<ExternKind, MetaError> {
        Ok(match self.u8(what)? {
            0 => ExternKind::Func,
            1 => ExternKind::Table,
            2 => ExternKind::Memory,
            3 => ExternKind::Global,
            other => return self.err(&format!("{what}: unknown kind {other}")),
        })
    }
}

impl ModuleMeta {
    /// Encodes the metadata (without the artifact header).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer { out: Vec::new() };
        w.str(&self.compiler_version);
        w.str(&self.triple);
        w.str(&self.preset);
        w.list(&self.cpu_features, |w, f| w.str(f));
        w.u8(match self.bounds_checks {
            BoundsChecks::Guard => 0,
            BoundsChecks::Explicit => 1,
        });
        w.str(&self.opt_level);
        match &self.name {
            None => w.u8(0),
            Some(n) => {
                w.u8(1);
                w.str(n);
            }
        }
        w.list(&self.types, |w, t| {
            w.list(&t.params, |w, v| w.val_type(*v));
            w.list(&t.results, |w, v| w.val_type(*v));
        });
        w.list(&self.imports, |w, i| {
            w.str(&i.module);
            w.str(&i.name);
            w.extern_kind(i.ty.kind());
            match &i.ty {
                ImportType::Func(t) => w.u32(*t),
                ImportType::Table(t) => w.table_type(t),
                ImportType::Memory(m) => w.memory_type(m),
                ImportType::Global(g) => w.global_type(g),
            }
        });
        w.list(&self.funcs, |w, f| {
            w.u32(f.type_index);
            w.u32(f.code_offset);
            w.u32(f.code_len);
            w.u32(f.wasm_offset);
        });
        w.list(&self.tables, |w, t| w.table_type(t));
        w.list(&self.memories, |w, m| w.memory_type(m));
        w.list(&self.globals, |w, g| {
            w.global_type(&g.ty);
            w.const_expr(&g.init);
        });
        w.list(&self.exports, |w, e| {
            w.str(&e.name);
            w.extern_kind(e.kind);
            w.u32(e.index);
        });
        w.opt_u32(self.start);
        w.list(&self.elements, |w, e| {
            match &e.mode {
                ElemMode::Active { table, offset } => {
                    w.u8(0);
                    w.u32(*table);
                    w.const_expr(offset);
                }
                ElemMode::Passive => w.u8(1),
                ElemMode::Declared => w.u8(2),
            }
            w.val_type(e.ty);
            w.list(&e.items, |w, c| w.const_expr(c));
        });
        w.list(&self.data, |w, d| {
            match &d.mode {
                DataMode::Active { memory, offset } => {
                    w.u8(0);
                    w.u32(*memory);
                    w.const_expr(offset);
                }
                DataMode::Passive => w.u8(1),
            }
            w.u32(d.data_offset);
            w.u32(d.len);
        });
        w.list(&self.trampolines, |w, t| {
            w.u32(t.entry);
            w.opt_u32(t.host);
        });
        w.list(&self.traps, |w, t| {
            w.u32(t.code_offset);
            w.u8(t.kind.to_u8());
            w.u32(t.wasm_offset);
        });
        w.list(&self.func_names, |w, (i, n)| {
            w.u32(*i);
            w.str(n);
        });
        w.u8(u8::from(self.fuel_metering));
        match &self.memory_image {
            None => w.u8(0),
            Some(runs) => {
                w.u8(1);
                w.list(runs, |w, r| {
                    w.u32(r.memory);
                    w.u64(r.memory_offset);
                    w.u64(r.image_offset);
                    w.u64(r.len);
                });
            }
        }
        w.out
    }

    /// Decodes [`ModuleMeta::encode`]'s output. Never panics; every length
    /// is checked against the input.
    pub fn decode(bytes: &[u8]) -> Result<ModuleMeta, MetaError> {
        let mut r = Reader { bytes, pos: 0 };
        let compiler_version = r.str("compiler version")?;
        let triple = r.str("target triple")?;
        let preset = r.str("target preset")?;
        let cpu_features = r.list(4, "cpu features", |r| r.str("cpu feature"))?;
        let bounds_checks = match r.u8("bounds-check mode")? {
            0 => BoundsChecks::Guard,
            1 => BoundsChecks::Explicit,
            _ => return r.err("unknown bounds-check mode"),
        };
        let opt_level = r.str("optimisation level")?;
        let name = if r.bool("module name flag")? { Some(r.str("module name")?) } else { None };
        let types = r.list(8, "types", |r| {
            Ok(FuncType {
                params: r.list(1, "parameter types", |r| r.val_type("parameter type"))?,
                results: r.list(1, "result types", |r| r.val_type("result type"))?,
            })
        })?;
        let imports = r.list(13, "imports", |r| {
            let module = r.str("import module")?;
            let name = r.str("import name")?;
            let ty = match r.extern_kind("import kind")? {
                ExternKind::Func => ImportType::Func(r.u32("import type index")?),
                ExternKind::Table => ImportType::Table(r.table_type()?),
                ExternKind::Memory => ImportType::Memory(r.memory_type()?),
                ExternKind::Global => ImportType::Global(r.global_type()?),
            };
            Ok(Import { module, name, ty })
        })?;
        let funcs = r.list(16, "functions", |r| {
            Ok(FuncDef {
                type_index: r.u32("function type")?,
                code_offset: r.u32("function code offset")?,
                code_len: r.u32("function code length")?,
                wasm_offset: r.u32("function wasm offset")?,
            })
        })?;
        let tables = r.list(6, "tables", |r| r.table_type())?;
        let memories = r.list(5, "memories", |r| r.memory_type())?;
        let globals = r.list(3, "globals", |r| {
            Ok(GlobalDef { ty: r.global_type()?, init: r.const_expr("global initialiser")? })
        })?;
        let exports = r.list(9, "exports", |r| {
            Ok(Export {
                name: r.str("export name")?,
                kind: r.extern_kind("export kind")?,
                index: r.u32("export index")?,
            })
        })?;
        let start = r.opt_u32("start function")?;
        let elements = r.list(6, "element segments", |r| {
            let mode = match r.u8("element mode")? {
                0 => ElemMode::Active { table: r.u32("element table")?, offset: r.const_expr("element offset")? },
                1 => ElemMode::Passive,
                2 => ElemMode::Declared,
                _ => return r.err("unknown element mode"),
            };
            Ok(ElemSegment {
                mode,
                ty: r.ref_type("element type")?,
                items: r.list(2, "element items", |r| r.const_expr("element item"))?,
            })
        })?;
        let data = r.list(9, "data segments", |r| {
            let mode = match r.u8("data mode")? {
                0 => DataMode::Active { memory: r.u32("data memory")?, offset: r.const_expr("data offset")? },
                1 => DataMode::Passive,
                _ => return r.err("unknown data mode"),
            };
            Ok(DataSegment { mode, data_offset: r.u32("data range offset")?, len: r.u32("data range length")? })
        })?;
        let trampolines = r.list(5, "trampolines", |r| {
            Ok(TypeTrampolines { entry: r.u32("entry trampoline")?, host: r.opt_u32("host trampoline")? })
        })?;
        let traps = r.list(9, "trap sites", |r| {
            let code_offset = r.u32("trap code offset")?;
            let code = r.u8("trap kind")?;
            let Some(kind) = TrapKind::from_u8(code) else {
                return r.err(&format!("unknown trap kind {code}"));
            };
            Ok(TrapSite { code_offset, kind, wasm_offset: r.u32("trap wasm offset")? })
        })?;
        let func_names = r.list(8, "function names", |r| Ok((r.u32("named function")?, r.str("function name")?)))?;
        let fuel_metering = r.bool("fuel metering flag")?;
        let memory_image = if r.bool("memory image flag")? {
            Some(r.list(28, "memory image runs", |r| {
                Ok(ImageRun {
                    memory: r.u32("image run memory")?,
                    memory_offset: r.u64("image run memory offset")?,
                    image_offset: r.u64("image run section offset")?,
                    len: r.u64("image run length")?,
                })
            })?)
        } else {
            None
        };
        if r.pos != bytes.len() {
            return r.err("trailing bytes after the metadata");
        }
        Ok(ModuleMeta {
            compiler_version,
            triple,
            preset,
            cpu_features,
            bounds_checks,
            opt_level,
            name,
            types,
            imports,
            funcs,
            tables,
            memories,
            globals,
            exports,
            start,
            elements,
            data,
            trampolines,
            traps,
            func_names,
            fuel_metering,
            memory_image,
        })
    }

    /// Number of imports of `kind`.
    pub fn imported(&self, kind: ExternKind) -> u32 {
        self.imports.iter().filter(|i| i.ty.kind() == kind).count() as u32
    }

    /// The `VMContext` counts of this module.
    pub fn vm_counts(&self) -> crate::vmctx::VMCounts {
        let imported_functions = self.imported(ExternKind::Func);
        crate::vmctx::VMCounts {
            imported_functions,
            imported_tables: self.imported(ExternKind::Table),
            imported_memories: self.imported(ExternKind::Memory),
            imported_globals: self.imported(ExternKind::Global),
            defined_tables: self.tables.len() as u32,
            defined_memories: self.memories.len() as u32,
            defined_globals: self.globals.len() as u32,
            functions: imported_functions + self.funcs.len() as u32,
        }
    }

    /// Type index of function `index` (imports first), if it exists.
    pub fn func_type_index(&self, index: u32) -> Option<u32> {
        let mut seen = 0u32;
        for import in &self.imports {
            if let ImportType::Func(t) = import.ty {
                if seen == index {
                    return Some(t);
                }
                seen += 1;
            }
        }
        self.funcs.get((index - seen) as usize).map(|f| f.type_index)
    }

    /// Checks every cross-reference against the module's own index spaces
    /// and the lengths of the text, data and image sections, so the loader
    /// can index and map without further checks. Returns the first
    /// inconsistency found.
    pub fn validate(&self, text_len: u64, data_len: u64, image_len: u64) -> Result<(), MetaError> {
        let c = self.vm_counts();
        let n_types = self.types.len() as u64;
        let n_tables = u64::from(c.imported_tables) + self.tables.len() as u64;
        let n_memories = u64::from(c.imported_memories) + self.memories.len() as u64;
        let n_globals = u64::from(c.imported_globals) + self.globals.len() as u64;
        let n_funcs = u64::from(c.functions);
        let n_imported_globals = u64::from(c.imported_globals);
        let in_text = |off: u32, len: u32| u64::from(off) + u64::from(len) <= text_len;
        let ty = |t: u32, what: &str| {
            if u64::from(t) < n_types {
                Ok(())
            } else {
                Err(inconsistent(format!("{what} refers to type {t} of {n_types}")))
            }
        };
        let const_ok = |e: &ConstExpr, what: &str| match *e {
            ConstExpr::GlobalGet(g) if u64::from(g) >= n_imported_globals => {
                Err(inconsistent(format!("{what} reads global {g}, which is not imported")))
            }
            ConstExpr::RefFunc(f) if u64::from(f) >= n_funcs => {
                Err(inconsistent(format!("{what} refers to function {f} of {n_funcs}")))
            }
            _ => Ok(()),
        };
        if self.types.len() > u32::MAX as usize / 2
            || self.funcs.len() > u32::MAX as usize / 2
            || self.imports.len() > u32::MAX as usize / 2
        {
            return Err(inconsistent("too many entities"));
        }
        for import in &self.imports {
            if let ImportType::Func(t) = import.ty {
                ty(t, "an imported function")?;
            }
        }
        for (i, f) in self.funcs.iter().enumerate() {
            ty(f.type_index, "a function")?;
            if !in_text(f.code_offset, f.code_len) {
                return Err(inconsistent(format!("code of defined function {i} lies outside the text")));
            }
        }
        for g in &self.globals {
            const_ok(&g.init, "a global initialiser")?;
        }
        for e in &self.exports {
            let n = match e.kind {
                ExternKind::Func => n_funcs,
                ExternKind::Table => n_tables,
                ExternKind::Memory => n_memories,
                ExternKind::Global => n_globals,
            };
            if u64::from(e.index) >= n {
                return Err(inconsistent(format!("export {:?} refers to a missing {}", e.name, e.kind.name())));
            }
        }
        if let Some(s) = self.start {
            if u64::from(s) >= n_funcs {
                return Err(inconsistent("start function does not exist"));
            }
        }
        for e in &self.elements {
            if let ElemMode::Active { table, offset } = &e.mode {
                if u64::from(*table) >= n_tables {
                    return Err(inconsistent("element segment refers to a missing table"));
                }
                const_ok(offset, "an element offset")?;
            }
            for item in &e.items {
                const_ok(item, "an element item")?;
            }
        }
        for d in &self.data {
            if let DataMode::Active { memory, offset } = &d.mode {
                if u64::from(*memory) >= n_memories {
                    return Err(inconsistent("data segment refers to a missing memory"));
                }
                const_ok(offset, "a data offset")?;
            }
            if u64::from(d.data_offset) + u64::from(d.len) > data_len {
                return Err(inconsistent("data segment lies outside the data section"));
            }
        }
        if self.trampolines.len() != self.types.len() {
            return Err(inconsistent("trampolines do not match the types"));
        }
        for t in &self.trampolines {
            if u64::from(t.entry) >= text_len || t.host.is_some_and(|h| u64::from(h) >= text_len) {
                return Err(inconsistent("a trampoline lies outside the text"));
            }
        }
        for import in &self.imports {
            if let ImportType::Func(t) = import.ty {
                if self.trampolines[t as usize].host.is_none() {
                    return Err(inconsistent("an imported function's type has no host trampoline"));
                }
            }
        }
        if self.traps.windows(2).any(|w| w[0].code_offset > w[1].code_offset)
            || self.traps.iter().any(|t| u64::from(t.code_offset) >= text_len)
        {
            return Err(inconsistent("trap table is unsorted or outside the text"));
        }
        self.validate_image(image_len)
    }

    /// Checks the memory image: runs aligned, inside their memories'
    /// initial sizes and the image section, sorted and disjoint; and the
    /// active data segments are all ones an image can replace.
    fn validate_image(&self, image_len: u64) -> Result<(), MetaError> {
        let Some(runs) = &self.memory_image else { return Ok(()) };
        let align = crate::artifact::IMAGE_ALIGN;
        let imported = u64::from(self.imported(ExternKind::Memory));
        for d in &self.data {
            if let DataMode::Active { memory, offset } = d.mode {
                let defined = u64::from(memory).checked_sub(imported);
                if defined.is_none() || !matches!(offset, ConstExpr::I32(_)) {
                    return Err(inconsistent("a memory image with a data segment it cannot replace"));
                }
            }
        }
        let mut previous: Option<(u32, u64)> = None;
        for r in runs {
            let Some(memory) = self.memories.get(r.memory as usize) else {
                return Err(inconsistent("a memory image run refers to a missing memory"));
            };
            let initial = u64::from(memory.min_pages) * crate::WASM_PAGE_SIZE;
            let aligned = [r.memory_offset, r.image_offset, r.len].iter().all(|v| v % align == 0);
            let fits = |off: u64, limit: u64| off.checked_add(r.len).is_some_and(|end| end <= limit);
            if r.len == 0 || !aligned || !fits(r.memory_offset, initial) || !fits(r.image_offset, image_len) {
                return Err(inconsistent("a memory image run is unaligned, empty or out of range"));
            }
            if previous.is_some_and(|(m, end)| (m, end) > (r.memory, r.memory_offset)) {
                return Err(inconsistent("memory image runs are unsorted or overlap"));
            }
            previous = Some((r.memory, r.memory_offset + r.len));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ModuleMeta {
        ModuleMeta {
            compiler_version: "0.1.0".into(),
            triple: "x86_64-unknown-linux-gnu".into(),
            preset: "x86_64".into(),
            cpu_features: vec!["sse4.1".into()],
            bounds_checks: BoundsChecks::Explicit,
            opt_level: "speed".into(),
            name: Some("m".into()),
            types: vec![FuncType { params: vec![ValType::I32, ValType::V128], results: vec![ValType::FuncRef] }],
            imports: vec![
                Import { module: "env".into(), name: "f".into(), ty: ImportType::Func(0) },
                Import {
                    module: "env".into(),
                    name: "g".into(),
                    ty: ImportType::Global(GlobalType { ty: ValType::I32, mutable: false }),
                },
                Import {
                    module: "env".into(),
                    name: "t".into(),
                    ty: ImportType::Table(TableType { element: ValType::FuncRef, min: 1, max: None }),
                },
            ],
            funcs: vec![FuncDef { type_index: 0, code_offset: 0, code_len: 16, wasm_offset: 40 }],
            tables: vec![TableType { element: ValType::ExternRef, min: 0, max: Some(10) }],
            memories: vec![MemoryType { min_pages: 1, max_pages: Some(2) }],
            globals: vec![GlobalDef {
                ty: GlobalType { ty: ValType::V128, mutable: true },
                init: ConstExpr::V128(u128::MAX - 7),
            }],
            exports: vec![Export { name: "run".into(), kind: ExternKind::Func, index: 1 }],
            start: Some(1),
            elements: vec![ElemSegment {
                mode: ElemMode::Active { table: 0, offset: ConstExpr::GlobalGet(0) },
                ty: ValType::FuncRef,
                items: vec![ConstExpr::RefFunc(1), ConstExpr::RefNull(ValType::FuncRef)],
            }],
            data: vec![DataSegment {
                mode: DataMode::Active { memory: 0, offset: ConstExpr::I32(-1) },
                data_offset: 0,
                len: 3,
            }],
            trampolines: vec![TypeTrampolines { entry: 16, host: Some(32) }],
            traps: vec![TrapSite { code_offset: 4, kind: TrapKind::IntegerDivisionByZero, wasm_offset: 44 }],
            func_names: vec![(1, "run".into())],
            fuel_metering: true,
            memory_image: Some(vec![ImageRun { memory: 0, memory_offset: 0, image_offset: 65536, len: 65536 }]),
        }
    }

    const IMAGE_LEN: u64 = 2 * 65536;

    #[test]
    fn round_trip() {
        let m = sample();
        let bytes = m.encode();
        assert_eq!(ModuleMeta::decode(&bytes).unwrap(), m);
        m.validate(64, 3, IMAGE_LEN).unwrap();
        assert_eq!(m.func_type_index(0), Some(0));
        assert_eq!(m.func_type_index(1), Some(0));
        assert_eq!(m.func_type_index(2), None);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(ModuleMeta::decode(&bytes[..len]).is_err(), "prefix of {len} bytes decoded");
        }
    }

    #[test]
    fn every_byte_flip_is_an_error_or_still_decodes_without_panic() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                if let Ok(m) = ModuleMeta::decode(&b) {
                    let _ = m.validate(64, 3, IMAGE_LEN);
                }
            }
        }
    }

    #[test]
    fn validate_catches_dangling_references() {
        let mut m = sample();
        m.funcs[0].code_len = 100;
        assert!(m.validate(64, 3, IMAGE_LEN).is_err());
        let mut m = sample();
        m.exports[0].index = 9;
        assert!(m.validate(64, 3, IMAGE_LEN).is_err());
        let mut m = sample();
        m.data[0].len = 4;
        assert!(m.validate(64, 3, IMAGE_LEN).is_err());
        let mut m = sample();
        m.globals[0].init = ConstExpr::RefFunc(7);
        assert!(m.validate(64, 3, IMAGE_LEN).is_err());
    }

    #[test]
    fn validate_checks_the_memory_image() {
        let run = |memory, memory_offset, image_offset, len| ImageRun { memory, memory_offset, image_offset, len };
        let refused = [
            vec![run(1, 0, 0, 65536)],                          // no such memory
            vec![run(0, 0, 65536 * 2, 65536)],                  // past the image section
            vec![run(0, 65536, 0, 65536)],                      // past the initial size (1 page)
            vec![run(0, 4096, 0, 65536)],                       // unaligned
            vec![run(0, 0, 0, 0)],                              // empty
            vec![run(0, 0, 0, 65536), run(0, 0, 65536, 65536)], // overlapping
        ];
        for runs in refused {
            let mut m = sample();
            m.memory_image = Some(runs.clone());
            assert!(m.validate(64, 3, IMAGE_LEN).is_err(), "{runs:?} accepted");
        }
        let mut m = sample();
        m.data[0].mode = DataMode::Active { memory: 0, offset: ConstExpr::GlobalGet(0) };
        assert!(m.validate(64, 3, IMAGE_LEN).is_err(), "an image replacing a segment at an imported offset");
        m.memory_image = None;
        m.validate(64, 3, IMAGE_LEN).unwrap();
    }
}
