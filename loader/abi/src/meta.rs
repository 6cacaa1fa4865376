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

/// A constant expression: one instruction as in Wasm 2.0, or several
/// (Wasm 3.0's extended constant expressions) kept as [`ConstExpr::Ops`].
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
    /// Several instructions, [`ModuleMeta::const_ops`]`[start..start +
    /// len]`, run on a stack and leaving one value. Only expressions that
    /// read a global are kept this way: the compiler folds the others into
    /// one constant.
    Ops {
        /// Index of the first instruction.
        start: u32,
        /// How many instructions.
        len: u32,
    },
}

/// One instruction of a [`ConstExpr::Ops`]: integer constants, reads of
/// imported globals, and the `add`, `sub` and `mul` Wasm 3.0 allows in
/// constant expressions (wrapping, as in code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstOp {
    /// `i32.const`
    I32(i32),
    /// `i64.const`
    I64(i64),
    /// `global.get` of an imported global.
    GlobalGet(u32),
    /// `i32.add`
    I32Add,
    /// `i32.sub`
    I32Sub,
    /// `i32.mul`
    I32Mul,
    /// `i64.add`
    I64Add,
    /// `i64.sub`
    I64Sub,
    /// `i64.mul`
    I64Mul,
}

impl ConstOp {
    /// How many values it pops, and pushes one.
    pub fn pops(self) -> usize {
        match self {
            ConstOp::I32(_) | ConstOp::I64(_) | ConstOp::GlobalGet(_) => 0,
            _ => 2,
        }
    }

    /// Runs it on `stack` (of `i32`s zero-extended and `i64`s), reading
    /// imported global `g` with `global(g)`. A stack too short (a damaged
    /// artifact; [`ModuleMeta::validate_head`] refuses it) pops zeros.
    pub fn run(self, stack: &mut Vec<u64>, global: impl FnOnce(u32) -> u64) {
        let mut pop = || stack.pop().unwrap_or(0);
        let value = match self {
            ConstOp::I32(v) => u64::from(v as u32),
            ConstOp::I64(v) => v as u64,
            ConstOp::GlobalGet(g) => global(g),
            binary => {
                let (b, a) = (pop(), pop());
                let (a32, b32) = (a as u32, b as u32);
                match binary {
                    ConstOp::I32Add => u64::from(a32.wrapping_add(b32)),
                    ConstOp::I32Sub => u64::from(a32.wrapping_sub(b32)),
                    ConstOp::I32Mul => u64::from(a32.wrapping_mul(b32)),
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }
            }
        };
        stack.push(value);
    }
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
///
/// The long per-function lists (functions, exports, trap sites, function
/// names) are `L`: [`OwnedLists`] as the compiler builds them and
/// [`ModuleMeta::decode`] returns them, or [`MappedLists`] as the loader
/// keeps them, read in place from the encoded bytes, so that loading costs
/// the same whatever the number of functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleMeta<L = OwnedLists> {
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
    /// Defined tables.
    pub tables: Vec<TableType>,
    /// Defined memories.
    pub memories: Vec<MemoryType>,
    /// Defined globals.
    pub globals: Vec<GlobalDef>,
    /// The instructions of every [`ConstExpr::Ops`].
    pub const_ops: Vec<ConstOp>,
    /// Start function index.
    pub start: Option<u32>,
    /// Element segments, by index.
    pub elements: Vec<ElemSegment>,
    /// Data segments, by index.
    pub data: Vec<DataSegment>,
    /// Trampolines, by type index.
    pub trampolines: Vec<TypeTrampolines>,
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
    /// Functions, exports, trap sites and function names.
    pub lists: L,
}

/// The per-function lists of a [`ModuleMeta`], owned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedLists {
    /// Defined functions, in index order after the imported ones; their
    /// code lies in the text in the same order.
    pub funcs: Vec<FuncDef>,
    /// Exports, in module order (names are unique).
    pub exports: Vec<Export>,
    /// Trap sites, sorted by `code_offset`.
    pub traps: Vec<TrapSite>,
    /// Function names from the name section: `(function index, name)`,
    /// sorted by index.
    pub func_names: Vec<(u32, String)>,
}

/// What [`ModuleMeta`] needs of its lists whatever their form.
pub trait MetaLists {
    /// Number of defined functions.
    fn funcs_len(&self) -> usize;
}

impl MetaLists for OwnedLists {
    fn funcs_len(&self) -> usize {
        self.funcs.len()
    }
}

/// Where each per-function list lies in the encoded metadata: a list of
/// fixed-size little-endian records, read in place by [`MappedLists::view`].
///
/// Reading them needs only bounds checks, done on every access; what
/// [`ModuleMeta::validate`] checks of [`OwnedLists`] (references to types
/// and text, sort orders, UTF-8) is checked where a loader uses a record,
/// or not at all where a damaged record can only give a wrong name or
/// trap location.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MappedLists {
    funcs: Span,
    exports: Span,
    export_order: Span,
    traps: Span,
    func_names: Span,
    strings: Span,
}

/// A byte range of the encoded metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    len: usize,
}

impl MetaLists for MappedLists {
    fn funcs_len(&self) -> usize {
        self.funcs.len / FUNC_RECORD
    }
}

/// Bytes of a function record: type index, code offset, code length,
/// wasm offset.
const FUNC_RECORD: usize = 16;
/// Bytes of an export record: name offset and length in the string pool,
/// kind (one byte, three zero bytes), index.
const EXPORT_RECORD: usize = 16;
/// Bytes of an entry of the exports-by-name order: an export's position.
const ORDER_RECORD: usize = 4;
/// Bytes of a trap record: code offset, wasm offset, kind (one byte, three
/// zero bytes).
const TRAP_RECORD: usize = 12;
/// Bytes of a function-name record: function index, name offset and length
/// in the string pool.
const NAME_RECORD: usize = 12;

/// An export, read in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportRef<'a> {
    /// Export name.
    pub name: &'a str,
    /// What is exported.
    pub kind: ExternKind,
    /// Index in that kind's index space (imports included).
    pub index: u32,
}

impl MappedLists {
    /// The lists, read from `bytes`, the encoded metadata this was read
    /// from (other bytes give wrong records or none, never a panic).
    pub fn view<'a>(&self, bytes: &'a [u8]) -> Lists<'a> {
        Lists { bytes, spans: *self }
    }
}

/// The per-function lists read in place (see [`MappedLists`]). Every
/// accessor checks its bounds and returns `None` for a record that is
/// missing or does not decode.
#[derive(Clone, Copy, Debug)]
pub struct Lists<'a> {
    bytes: &'a [u8],
    spans: MappedLists,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn extern_kind_from_code(code: u8) -> Option<ExternKind> {
    Some(match code {
        0 => ExternKind::Func,
        1 => ExternKind::Table,
        2 => ExternKind::Memory,
        3 => ExternKind::Global,
        _ => return None,
    })
}

fn extern_kind_code(kind: ExternKind) -> u8 {
    match kind {
        ExternKind::Func => 0,
        ExternKind::Table => 1,
        ExternKind::Memory => 2,
        ExternKind::Global => 3,
    }
}

impl<'a> Lists<'a> {
    /// Record `i` of `span`, `size` bytes long.
    fn record(&self, span: Span, size: usize, i: usize) -> Option<&'a [u8]> {
        let at = i.checked_mul(size)?;
        if at >= span.len {
            return None;
        }
        self.bytes.get(span.start + at..span.start + at + size)
    }

    fn string(&self, offset: u32, len: u32) -> Option<&'a str> {
        let start = self.spans.strings.start.checked_add(offset as usize)?;
        let end = start.checked_add(len as usize)?;
        if end > self.spans.strings.start + self.spans.strings.len {
            return None;
        }
        core::str::from_utf8(self.bytes.get(start..end)?).ok()
    }

    /// Number of defined functions.
    pub fn funcs_len(&self) -> usize {
        self.spans.funcs_len()
    }

    /// Defined function `i` (imported functions not counted).
    pub fn func(&self, i: usize) -> Option<FuncDef> {
        let b = self.record(self.spans.funcs, FUNC_RECORD, i)?;
        Some(FuncDef {
            type_index: u32_at(b, 0),
            code_offset: u32_at(b, 4),
            code_len: u32_at(b, 8),
            wasm_offset: u32_at(b, 12),
        })
    }

    /// The defined function (index among defined functions) whose code
    /// contains text `offset`: a binary search over the functions, whose
    /// code lies in index order.
    pub fn defined_func_at(&self, offset: u32) -> Option<u32> {
        let i = partition_point(self.funcs_len(), |i| self.func(i).is_some_and(|f| f.code_offset <= offset));
        let f = self.func(i.checked_sub(1)?)?;
        (offset.checked_sub(f.code_offset)? < f.code_len).then_some(i as u32 - 1)
    }

    /// The defined function (index among defined functions) whose body
    /// starts at or before `wasm_offset` in the wasm binary, latest first.
    pub fn defined_func_at_wasm_offset(&self, wasm_offset: u32) -> Option<u32> {
        let i = partition_point(self.funcs_len(), |i| self.func(i).is_some_and(|f| f.wasm_offset <= wasm_offset));
        Some(i.checked_sub(1)? as u32)
    }

    /// Number of exports.
    pub fn exports_len(&self) -> usize {
        self.spans.exports.len / EXPORT_RECORD
    }

    /// Export `i`, in module order.
    pub fn export(&self, i: usize) -> Option<ExportRef<'a>> {
        let b = self.record(self.spans.exports, EXPORT_RECORD, i)?;
        Some(ExportRef {
            name: self.string(u32_at(b, 0), u32_at(b, 4))?,
            kind: extern_kind_from_code(b[8])?,
            index: u32_at(b, 12),
        })
    }

    /// The exports, in module order (a record that does not decode is
    /// left out).
    pub fn exports(&self) -> impl Iterator<Item = ExportRef<'a>> + 'a {
        let this = *self;
        (0..self.exports_len()).filter_map(move |i| this.export(i))
    }

    /// The export named `name`: a binary search over the exports sorted by
    /// name.
    pub fn export_named(&self, name: &str) -> Option<ExportRef<'a>> {
        let n = self.spans.export_order.len / ORDER_RECORD;
        let nth = |k: usize| {
            let b = self.record(self.spans.export_order, ORDER_RECORD, k)?;
            self.export(u32_at(b, 0) as usize)
        };
        let k = partition_point(n, |k| nth(k).is_some_and(|e| e.name.as_bytes() < name.as_bytes()));
        nth(k).filter(|e| e.name == name)
    }

    /// Number of trap sites.
    pub fn traps_len(&self) -> usize {
        self.spans.traps.len / TRAP_RECORD
    }

    /// Trap site `i`, in code order.
    pub fn trap(&self, i: usize) -> Option<TrapSite> {
        let b = self.record(self.spans.traps, TRAP_RECORD, i)?;
        Some(TrapSite { code_offset: u32_at(b, 0), wasm_offset: u32_at(b, 4), kind: TrapKind::from_u8(b[8])? })
    }

    /// The trap site at text offset `code_offset`: a binary search.
    pub fn trap_at(&self, code_offset: u32) -> Option<TrapSite> {
        let code = |i: usize| self.record(self.spans.traps, TRAP_RECORD, i).map(|b| u32_at(b, 0));
        let i = partition_point(self.traps_len(), |i| code(i).is_some_and(|c| c < code_offset));
        self.trap(i).filter(|t| t.code_offset == code_offset)
    }

    /// Number of named functions.
    pub fn func_names_len(&self) -> usize {
        self.spans.func_names.len / NAME_RECORD
    }

    /// Named function `i`, by increasing function index: `(index, name)`.
    pub fn func_name_entry(&self, i: usize) -> Option<(u32, &'a str)> {
        let b = self.record(self.spans.func_names, NAME_RECORD, i)?;
        Some((u32_at(b, 0), self.string(u32_at(b, 4), u32_at(b, 8))?))
    }

    /// The name-section name of function `index` (imports included).
    pub fn func_name(&self, index: u32) -> Option<&'a str> {
        let func = |i: usize| self.record(self.spans.func_names, NAME_RECORD, i).map(|b| u32_at(b, 0));
        let i = partition_point(self.func_names_len(), |i| func(i).is_some_and(|f| f < index));
        self.func_name_entry(i).filter(|(f, _)| *f == index).map(|(_, name)| name)
    }

    /// Every list copied out, each record checked to decode.
    fn to_owned(self) -> Result<OwnedLists, MetaError> {
        let bad = |what: &str| Err(MetaError { what: format!("{what} does not decode"), offset: None });
        let mut lists = OwnedLists::default();
        for i in 0..self.funcs_len() {
            let Some(f) = self.func(i) else { return bad("a function record") };
            lists.funcs.push(f);
        }
        for i in 0..self.exports_len() {
            let Some(e) = self.export(i) else { return bad("an export record") };
            lists.exports.push(Export { name: e.name.to_string(), kind: e.kind, index: e.index });
        }
        let order = self.spans.export_order.len / ORDER_RECORD;
        if order != lists.exports.len() {
            return bad("the exports-by-name order");
        }
        for i in 0..self.traps_len() {
            let Some(t) = self.trap(i) else { return bad("a trap record") };
            lists.traps.push(t);
        }
        for i in 0..self.func_names_len() {
            let Some((f, name)) = self.func_name_entry(i) else { return bad("a function-name record") };
            lists.func_names.push((f, name.to_string()));
        }
        Ok(lists)
    }
}

/// The first `i` in `0..n` for which `pred` is false, `pred` being true
/// on a prefix of the range (`slice::partition_point` over indices).
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
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
            ConstExpr::Ops { start, len } => {
                self.u8(8);
                self.u32(start);
                self.u32(len);
            }
        }
    }
    fn const_op(&mut self, op: ConstOp) {
        match op {
            ConstOp::I32(v) => {
                self.u8(0);
                self.u32(v as u32);
            }
            ConstOp::I64(v) => {
                self.u8(1);
                self.u64(v as u64);
            }
            ConstOp::GlobalGet(g) => {
                self.u8(2);
                self.u32(g);
            }
            ConstOp::I32Add => self.u8(3),
            ConstOp::I32Sub => self.u8(4),
            ConstOp::I32Mul => self.u8(5),
            ConstOp::I64Add => self.u8(6),
            ConstOp::I64Sub => self.u8(7),
            ConstOp::I64Mul => self.u8(8),
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
        self.u8(extern_kind_code(k));
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
    /// A list of `n` records of `size` bytes, skipped: where it lies.
    fn span(&mut self, size: usize, what: &str) -> Result<Span, MetaError> {
        let n = self.len(size, what)?;
        let start = self.pos;
        self.take(n * size, what)?;
        Ok(Span { start, len: n * size })
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
            8 => ConstExpr::Ops { start: self.u32(what)?, len: self.u32(what)? },
            other => return self.err(&format!("{what}: unknown constant expression {other}")),
        })
    }
    fn const_op(&mut self) -> Result<ConstOp, MetaError> {
        const WHAT: &str = "constant instruction";
        Ok(match self.u8(WHAT)? {
            0 => ConstOp::I32(self.u32(WHAT)? as i32),
            1 => ConstOp::I64(self.u64(WHAT)? as i64),
            2 => ConstOp::GlobalGet(self.u32(WHAT)?),
            3 => ConstOp::I32Add,
            4 => ConstOp::I32Sub,
            5 => ConstOp::I32Mul,
            6 => ConstOp::I64Add,
            7 => ConstOp::I64Sub,
            8 => ConstOp::I64Mul,
            other => return self.err(&format!("unknown constant instruction {other}")),
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
        let code = self.u8(what)?;
        match extern_kind_from_code(code) {
            Some(kind) => Ok(kind),
            None => self.err(&format!("{what}: unknown kind {code}")),
        }
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
        w.list(&self.tables, |w, t| w.table_type(t));
        w.list(&self.memories, |w, m| w.memory_type(m));
        w.list(&self.globals, |w, g| {
            w.global_type(&g.ty);
            w.const_expr(&g.init);
        });
        w.list(&self.const_ops, |w, op| w.const_op(*op));
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
        self.lists.encode(&mut w);
        w.out
    }

    /// Decodes [`ModuleMeta::encode`]'s output, copying every list out of
    /// `bytes` and checking that each record decodes. Never panics; every
    /// length is checked against the input.
    pub fn decode(bytes: &[u8]) -> Result<ModuleMeta, MetaError> {
        ModuleMeta::decode_with(bytes, |lists| lists.view(bytes).to_owned())
    }
}

impl ModuleMeta<MappedLists> {
    /// Decodes [`ModuleMeta::encode`]'s output but for the per-function
    /// lists, which it only locates (checking that each lies in `bytes`):
    /// read them with `self.lists.view(bytes)`. Costs the same whatever the
    /// number of functions. Never panics.
    pub fn read(bytes: &[u8]) -> Result<ModuleMeta<MappedLists>, MetaError> {
        ModuleMeta::decode_with(bytes, Ok)
    }
}

impl<L> ModuleMeta<L> {
    /// Decodes the head, locates the lists and makes them `L` with
    /// `make_lists`.
    fn decode_with(
        bytes: &[u8],
        make_lists: impl FnOnce(MappedLists) -> Result<L, MetaError>,
    ) -> Result<ModuleMeta<L>, MetaError> {
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
        let tables = r.list(6, "tables", |r| r.table_type())?;
        let memories = r.list(5, "memories", |r| r.memory_type())?;
        let globals = r.list(3, "globals", |r| {
            Ok(GlobalDef { ty: r.global_type()?, init: r.const_expr("global initialiser")? })
        })?;
        let const_ops = r.list(1, "constant instructions", |r| r.const_op())?;
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
        let lists = MappedLists {
            funcs: r.span(FUNC_RECORD, "functions")?,
            exports: r.span(EXPORT_RECORD, "exports")?,
            export_order: r.span(ORDER_RECORD, "exports by name")?,
            traps: r.span(TRAP_RECORD, "trap sites")?,
            func_names: r.span(NAME_RECORD, "function names")?,
            strings: r.span(1, "names")?,
        };
        if r.pos != bytes.len() {
            return r.err("trailing bytes after the metadata");
        }
        let lists = make_lists(lists)?;
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
            tables,
            memories,
            globals,
            const_ops,
            start,
            elements,
            data,
            trampolines,
            fuel_metering,
            memory_image,
            lists,
        })
    }
}

/// Where a function of the function index space comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncOrigin {
    /// An import, of this type index.
    Imported {
        /// Type index.
        type_index: u32,
    },
    /// The module's defined function of this index among the defined ones
    /// (not checked to exist).
    Defined(u32),
}

impl<L: MetaLists> ModuleMeta<L> {
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
            functions: imported_functions + self.lists.funcs_len() as u32,
        }
    }

    /// Where function `index` (imports first) comes from.
    pub fn func_origin(&self, index: u32) -> FuncOrigin {
        let mut seen = 0u32;
        for import in &self.imports {
            if let ImportType::Func(type_index) = import.ty {
                if seen == index {
                    return FuncOrigin::Imported { type_index };
                }
                seen += 1;
            }
        }
        FuncOrigin::Defined(index - seen)
    }

    /// Checks every cross-reference outside the per-function lists against
    /// the module's own index spaces and the lengths of the text, data and
    /// image sections, so the loader can index and map without further
    /// checks. Returns the first inconsistency found. A loader checks each
    /// list record where it uses it (see [`MappedLists`]).
    pub fn validate_head(&self, text_len: u64, data_len: u64, image_len: u64) -> Result<(), MetaError> {
        let c = self.vm_counts();
        let n_types = self.types.len() as u64;
        let n_tables = u64::from(c.imported_tables) + self.tables.len() as u64;
        let n_memories = u64::from(c.imported_memories) + self.memories.len() as u64;
        let n_funcs = u64::from(c.functions);
        let n_imported_globals = u64::from(c.imported_globals);
        let ty = |t: u32, what: &str| {
            if u64::from(t) < n_types {
                Ok(())
            } else {
                Err(inconsistent(format!("{what} refers to type {t} of {n_types}")))
            }
        };
        let global_ok = |g: u32, what: &str| {
            if u64::from(g) < n_imported_globals {
                Ok(())
            } else {
                Err(inconsistent(format!("{what} reads global {g}, which is not imported")))
            }
        };
        let const_ok = |e: &ConstExpr, what: &str| match *e {
            ConstExpr::GlobalGet(g) => global_ok(g, what),
            ConstExpr::RefFunc(f) if u64::from(f) >= n_funcs => {
                Err(inconsistent(format!("{what} refers to function {f} of {n_funcs}")))
            }
            ConstExpr::Ops { start, len } => {
                let ops = (start as usize)
                    .checked_add(len as usize)
                    .and_then(|end| self.const_ops.get(start as usize..end))
                    .ok_or_else(|| inconsistent(format!("{what} lies outside the constant instructions")))?;
                // Each instruction finds its operands; one value is left.
                let mut depth = 0usize;
                for op in ops {
                    if let ConstOp::GlobalGet(g) = *op {
                        global_ok(g, what)?;
                    }
                    depth = depth
                        .checked_sub(op.pops())
                        .ok_or_else(|| inconsistent(format!("{what} pops an empty stack")))?
                        + 1;
                }
                if depth == 1 {
                    Ok(())
                } else {
                    Err(inconsistent(format!("{what} leaves {depth} values")))
                }
            }
            _ => Ok(()),
        };
        if self.types.len() > u32::MAX as usize / 2
            || self.lists.funcs_len() > u32::MAX as usize / 2
            || self.imports.len() > u32::MAX as usize / 2
        {
            return Err(inconsistent("too many entities"));
        }
        for import in &self.imports {
            if let ImportType::Func(t) = import.ty {
                ty(t, "an imported function")?;
            }
        }
        for g in &self.globals {
            const_ok(&g.init, "a global initialiser")?;
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
        self.validate_image(image_len)
    }

    /// The number of entities of `kind`, imports included.
    pub fn count(&self, kind: ExternKind) -> u64 {
        u64::from(self.imported(kind))
            + match kind {
                ExternKind::Func => self.lists.funcs_len(),
                ExternKind::Table => self.tables.len(),
                ExternKind::Memory => self.memories.len(),
                ExternKind::Global => self.globals.len(),
            } as u64
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

impl ModuleMeta {
    /// Type index of function `index` (imports first), if it exists.
    pub fn func_type_index(&self, index: u32) -> Option<u32> {
        match self.func_origin(index) {
            FuncOrigin::Imported { type_index } => Some(type_index),
            FuncOrigin::Defined(i) => self.lists.funcs.get(i as usize).map(|f| f.type_index),
        }
    }

    /// [`ModuleMeta::validate_head`], then every record of the lists:
    /// functions' types and code (in the text, in index order), exports'
    /// indices and names (unique), trap sites (sorted, in the text) and
    /// function names (sorted by index, of existing functions).
    pub fn validate(&self, text_len: u64, data_len: u64, image_len: u64) -> Result<(), MetaError> {
        self.validate_head(text_len, data_len, image_len)?;
        let lists = &self.lists;
        let mut code_end = 0u64;
        for (i, f) in lists.funcs.iter().enumerate() {
            if f.type_index as usize >= self.types.len() {
                return Err(inconsistent(format!("defined function {i} refers to a missing type")));
            }
            let end = u64::from(f.code_offset) + u64::from(f.code_len);
            if u64::from(f.code_offset) < code_end || end > text_len {
                return Err(inconsistent(format!("code of defined function {i} is out of order or outside the text")));
            }
            code_end = end;
        }
        let mut names = std::collections::HashSet::new();
        for e in &lists.exports {
            if u64::from(e.index) >= self.count(e.kind) {
                return Err(inconsistent(format!("export {:?} refers to a missing {}", e.name, e.kind.name())));
            }
            if !names.insert(e.name.as_str()) {
                return Err(inconsistent(format!("export {:?} appears twice", e.name)));
            }
        }
        if lists.traps.windows(2).any(|w| w[0].code_offset > w[1].code_offset)
            || lists.traps.iter().any(|t| u64::from(t.code_offset) >= text_len)
        {
            return Err(inconsistent("trap table is unsorted or outside the text"));
        }
        let n_funcs = self.count(ExternKind::Func);
        if lists.func_names.windows(2).any(|w| w[0].0 >= w[1].0)
            || lists.func_names.iter().any(|(f, _)| u64::from(*f) >= n_funcs)
        {
            return Err(inconsistent("function names are unsorted or name missing functions"));
        }
        Ok(())
    }
}

impl OwnedLists {
    /// Writes the lists as [`MappedLists`] reads them: each a `u32` count
    /// and fixed-size records, then the string pool of every name.
    fn encode(&self, w: &mut Writer) {
        let mut strings = Vec::new();
        let mut string = |s: &str| {
            let offset = u32::try_from(strings.len()).expect("metadata names longer than u32::MAX bytes");
            strings.extend_from_slice(s.as_bytes());
            (offset, u32::try_from(s.len()).expect("a name longer than u32::MAX bytes"))
        };
        w.list(&self.funcs, |w, f| {
            w.u32(f.type_index);
            w.u32(f.code_offset);
            w.u32(f.code_len);
            w.u32(f.wasm_offset);
        });
        w.list(&self.exports, |w, e| {
            let (offset, len) = string(&e.name);
            w.u32(offset);
            w.u32(len);
            w.u32(u32::from(extern_kind_code(e.kind)));
            w.u32(e.index);
        });
        let mut by_name: Vec<u32> = (0..self.exports.len() as u32).collect();
        by_name
            .sort_by(|&a, &b| self.exports[a as usize].name.as_bytes().cmp(self.exports[b as usize].name.as_bytes()));
        w.list(&by_name, |w, &i| w.u32(i));
        w.list(&self.traps, |w, t| {
            w.u32(t.code_offset);
            w.u32(t.wasm_offset);
            w.u32(u32::from(t.kind.to_u8()));
        });
        w.list(&self.func_names, |w, (i, n)| {
            w.u32(*i);
            let (offset, len) = string(n);
            w.u32(offset);
            w.u32(len);
        });
        w.len(strings.len());
        w.out.extend_from_slice(&strings);
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
            tables: vec![TableType { element: ValType::ExternRef, min: 0, max: Some(10) }],
            memories: vec![MemoryType { min_pages: 1, max_pages: Some(2) }],
            globals: vec![
                GlobalDef { ty: GlobalType { ty: ValType::V128, mutable: true }, init: ConstExpr::V128(u128::MAX - 7) },
                // (g0 * 3 + 1) - 2 and ((5 + 6) - 2) * 3: every instruction.
                GlobalDef {
                    ty: GlobalType { ty: ValType::I32, mutable: false },
                    init: ConstExpr::Ops { start: 0, len: 7 },
                },
                GlobalDef {
                    ty: GlobalType { ty: ValType::I64, mutable: false },
                    init: ConstExpr::Ops { start: 7, len: 7 },
                },
            ],
            const_ops: vec![
                ConstOp::GlobalGet(0),
                ConstOp::I32(3),
                ConstOp::I32Mul,
                ConstOp::I32(1),
                ConstOp::I32Add,
                ConstOp::I32(2),
                ConstOp::I32Sub,
                ConstOp::I64(5),
                ConstOp::I64(6),
                ConstOp::I64Add,
                ConstOp::I64(2),
                ConstOp::I64Sub,
                ConstOp::I64(3),
                ConstOp::I64Mul,
            ],
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
            fuel_metering: true,
            memory_image: Some(vec![ImageRun { memory: 0, memory_offset: 0, image_offset: 65536, len: 65536 }]),
            lists: OwnedLists {
                funcs: vec![
                    FuncDef { type_index: 0, code_offset: 0, code_len: 16, wasm_offset: 40 },
                    FuncDef { type_index: 0, code_offset: 16, code_len: 24, wasm_offset: 60 },
                ],
                exports: vec![
                    Export { name: "run".into(), kind: ExternKind::Func, index: 1 },
                    Export { name: "mem".into(), kind: ExternKind::Memory, index: 0 },
                    Export { name: "zeta".into(), kind: ExternKind::Func, index: 2 },
                    Export { name: "état".into(), kind: ExternKind::Global, index: 1 },
                ],
                traps: vec![
                    TrapSite { code_offset: 4, kind: TrapKind::IntegerDivisionByZero, wasm_offset: 44 },
                    TrapSite { code_offset: 20, kind: TrapKind::MemoryOutOfBounds, wasm_offset: 66 },
                ],
                func_names: vec![(1, "run".into()), (2, "".into())],
            },
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
        assert_eq!(m.func_type_index(2), Some(0));
        assert_eq!(m.func_type_index(3), None);
    }

    #[test]
    fn mapped_lists_read_every_record_in_place() {
        let m = sample();
        let bytes = m.encode();
        let mapped = ModuleMeta::read(&bytes).unwrap();
        assert_eq!(mapped.lists.view(&bytes).to_owned(), Ok(m.lists.clone()), "the lists read in place");
        assert_eq!(ModuleMeta::decode(&bytes), Ok(m.clone()), "the head decodes the same (one decoder for both)");
        mapped.validate_head(64, 3, IMAGE_LEN).unwrap();
        let lists = mapped.lists.view(&bytes);
        assert_eq!(lists.funcs_len(), 2);
        assert_eq!(lists.func(1), Some(m.lists.funcs[1]));
        assert_eq!(lists.func(2), None);
        let exports: Vec<_> = lists.exports().map(|e| (e.name.to_string(), e.kind, e.index)).collect();
        let expected: Vec<_> = m.lists.exports.iter().map(|e| (e.name.clone(), e.kind, e.index)).collect();
        assert_eq!(exports, expected);
        for e in &m.lists.exports {
            assert_eq!(lists.export_named(&e.name).map(|f| (f.kind, f.index)), Some((e.kind, e.index)), "{}", e.name);
        }
        for missing in ["", "a", "runs", "ru", "zz", "\u{10ffff}"] {
            assert_eq!(lists.export_named(missing), None, "{missing}");
        }
        // Functions: code at [0, 16) and [16, 40).
        assert_eq!(lists.defined_func_at(0), Some(0));
        assert_eq!(lists.defined_func_at(15), Some(0));
        assert_eq!(lists.defined_func_at(16), Some(1));
        assert_eq!(lists.defined_func_at(39), Some(1));
        assert_eq!(lists.defined_func_at(40), None);
        assert_eq!(lists.defined_func_at_wasm_offset(39), None);
        assert_eq!(lists.defined_func_at_wasm_offset(59), Some(0));
        assert_eq!(lists.defined_func_at_wasm_offset(1000), Some(1));
        assert_eq!(lists.trap_at(20), Some(m.lists.traps[1]));
        assert_eq!(lists.trap_at(4), Some(m.lists.traps[0]));
        assert_eq!(lists.trap_at(5), None);
        assert_eq!(lists.func_name(1), Some("run"));
        assert_eq!(lists.func_name(2), Some(""));
        assert_eq!(lists.func_name(0), None);
    }

    #[test]
    fn mapped_lists_never_panic_on_other_bytes() {
        let bytes = sample().encode();
        let mapped = ModuleMeta::read(&bytes).unwrap();
        for len in 0..bytes.len() {
            let lists = mapped.lists.view(&bytes[..len]);
            for i in 0..4 {
                let _ = (lists.func(i), lists.export(i), lists.trap(i), lists.func_name_entry(i));
                let _ = (lists.defined_func_at(i as u32 * 10), lists.trap_at(i as u32 * 4), lists.func_name(i as u32));
            }
            let _ = lists.export_named("run");
        }
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
        m.lists.funcs[1].code_len = 100;
        assert!(m.validate(64, 3, IMAGE_LEN).is_err());
        let mut m = sample();
        m.lists.funcs.swap(0, 1);
        assert!(m.validate(64, 3, IMAGE_LEN).is_err(), "functions out of code order");
        let mut m = sample();
        m.lists.exports[0].index = 9;
        assert!(m.validate(64, 3, IMAGE_LEN).is_err());
        let mut m = sample();
        m.lists.exports[1].name = "run".into();
        assert!(m.validate(64, 3, IMAGE_LEN).is_err(), "duplicate export names");
        let mut m = sample();
        m.lists.traps.swap(0, 1);
        assert!(m.validate(64, 3, IMAGE_LEN).is_err(), "unsorted trap sites");
        let mut m = sample();
        m.data[0].len = 4;
        assert!(m.validate(64, 3, IMAGE_LEN).is_err());
        let mut m = sample();
        m.globals[0].init = ConstExpr::RefFunc(7);
        assert!(m.validate(64, 3, IMAGE_LEN).is_err());
    }

    #[test]
    fn validate_refuses_constant_instructions_that_do_not_leave_one_value() {
        let with_ops = |ops: Vec<ConstOp>, start: u32, len: u32| {
            let mut m = sample();
            m.const_ops = ops;
            m.globals[1].init = ConstExpr::Ops { start, len };
            m.globals[2].init = ConstExpr::I64(0);
            m.validate(64, 3, IMAGE_LEN)
        };
        assert!(with_ops(vec![ConstOp::I32(1), ConstOp::I32(2), ConstOp::I32Add], 0, 3).is_ok());
        let refused = [
            (vec![ConstOp::I32(1), ConstOp::I32Add], 0, 2, "pops an empty stack"),
            (vec![ConstOp::I32(1), ConstOp::I32(2)], 0, 2, "leaves 2 values"),
            (vec![], 0, 0, "leaves 0 values"),
            (vec![ConstOp::GlobalGet(1)], 0, 1, "not imported"),
            (vec![ConstOp::I32(1)], 0, 2, "outside"),
            (vec![ConstOp::I32(1)], u32::MAX, 2, "outside"),
        ];
        for (ops, start, len, why) in refused {
            let error = with_ops(ops.clone(), start, len).expect_err(why).to_string();
            assert!(error.contains(why), "{ops:?} {start}+{len}: {error}");
        }
    }

    #[test]
    fn constant_instructions_wrap_as_code_does() {
        let run = |ops: &[ConstOp]| {
            let mut stack = Vec::new();
            for op in ops {
                op.run(&mut stack, |g| u64::from(g) + 40);
            }
            stack
        };
        let sample = sample();
        assert_eq!(run(&sample.const_ops[..7]), [(40 * 3 + 1) - 2]);
        assert_eq!(run(&sample.const_ops[7..]), [((5 + 6) - 2) * 3]);
        assert_eq!(run(&[ConstOp::I32(i32::MAX), ConstOp::I32(1), ConstOp::I32Add]), [1 << 31]);
        assert_eq!(run(&[ConstOp::I32(0), ConstOp::I32(1), ConstOp::I32Sub]), [u64::from(u32::MAX)]);
        assert_eq!(run(&[ConstOp::I64(i64::MIN), ConstOp::I64(-1), ConstOp::I64Mul]), [i64::MIN as u64]);
        // A damaged list cannot make it panic: missing operands are zeros.
        assert_eq!(run(&[ConstOp::I64Sub]), [0]);
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
