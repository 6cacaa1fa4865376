//! Parsing a validated module into its description.
//!
//! The result is a [`ModuleMeta`] (everything but code offsets, trampolines
//! and traps, which linking fills in), the data-section bytes, lookup tables
//! the function environment needs, and the function bodies to compile.

use wasmc_abi::meta::{
    ConstExpr, ConstOp, DataMode, DataSegment, ElemMode, ElemSegment, Export, ExternKind, FuncDef, FuncType, GlobalDef,
    GlobalType, Import, ImportType, MemoryType, ModuleMeta, OwnedLists, TableType, ValType,
};
use wasmc_abi::vmctx::VMOffsets;
use wasmparser::{
    AbstractHeapType, CompositeInnerType, ElementItems, ElementKind, FuncToValidate, FunctionBody, HeapType, Imports,
    KnownCustom, Name, Operator, Parser, Payload, RefType, TypeRef, ValidPayload, ValidatorResources,
};

use crate::CompileError;

/// What the function environment and the linker need to know about a module.
pub(crate) struct ModuleInfo {
    /// The metadata, partly filled: see the module documentation.
    pub meta: ModuleMeta,
    /// Type index of every function, imports first.
    pub func_types: Vec<u32>,
    /// Every table, imports first.
    pub tables: Vec<TableType>,
    /// Every memory, imports first.
    pub memories: Vec<MemoryType>,
    /// Every global, imports first.
    pub globals: Vec<GlobalType>,
    /// Number of imported functions.
    pub imported_funcs: u32,
    /// Number of imported tables.
    pub imported_tables: u32,
    /// Number of imported memories.
    pub imported_memories: u32,
    /// Number of imported globals.
    pub imported_globals: u32,
    /// The module's `VMContext` layout.
    pub offsets: VMOffsets,
}

/// One function body to compile, with the validator that types its operators.
pub(crate) struct Body<'a> {
    /// Function index (imports included).
    pub func_index: u32,
    /// The body, positioned in the whole module binary.
    pub body: FunctionBody<'a>,
    /// Validator state for this body (the translator needs its type info).
    pub validator: FuncToValidate<ValidatorResources>,
}

/// A parsed module.
pub(crate) struct ParsedModule<'a> {
    /// Description and lookup tables.
    pub info: ModuleInfo,
    /// Every data segment's bytes, back to back.
    pub data: Vec<u8>,
    /// Defined function bodies, in index order.
    pub bodies: Vec<Body<'a>>,
}

fn unsupported(offset: usize, message: impl Into<String>) -> CompileError {
    CompileError::Unsupported { offset, message: message.into() }
}

/// Converts a value type of the Wasm 2.0 subset.
pub(crate) fn val_type(ty: wasmparser::ValType, offset: usize) -> Result<ValType, CompileError> {
    Ok(match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ref_type(r, offset)?,
    })
}

fn ref_type(ty: RefType, offset: usize) -> Result<ValType, CompileError> {
    heap_type(ty.heap_type(), offset)
}

fn heap_type(ty: HeapType, offset: usize) -> Result<ValType, CompileError> {
    match ty {
        HeapType::Abstract { shared: false, ty: AbstractHeapType::Func } => Ok(ValType::FuncRef),
        HeapType::Abstract { shared: false, ty: AbstractHeapType::Extern } => Ok(ValType::ExternRef),
        other => Err(unsupported(offset, format!("reference type {other:?}"))),
    }
}

fn table_type(t: &wasmparser::TableType, offset: usize) -> Result<TableType, CompileError> {
    if t.table64 || t.shared {
        return Err(unsupported(offset, "64-bit or shared table"));
    }
    let limit = |v: u64| u32::try_from(v).map_err(|_| unsupported(offset, "table limit above 2^32"));
    Ok(TableType {
        element: ref_type(t.element_type, offset)?,
        min: limit(t.initial)?,
        max: t.maximum.map(limit).transpose()?,
    })
}

fn memory_type(m: &wasmparser::MemoryType, offset: usize) -> Result<MemoryType, CompileError> {
    if m.memory64 || m.shared || m.page_size_log2.is_some() {
        return Err(unsupported(offset, "64-bit, shared or custom-page-size memory"));
    }
    let limit = |v: u64| u32::try_from(v).map_err(|_| unsupported(offset, "memory limit above 2^32 pages"));
    Ok(MemoryType { min_pages: limit(m.initial)?, max_pages: m.maximum.map(limit).transpose()? })
}

fn global_type(g: &wasmparser::GlobalType, offset: usize) -> Result<GlobalType, CompileError> {
    if g.shared {
        return Err(unsupported(offset, "shared global"));
    }
    Ok(GlobalType { ty: val_type(g.content_type, offset)?, mutable: g.mutable })
}

/// Converts a constant expression: one instruction as in Wasm 2.0, or
/// several (Wasm 3.0's extended constant expressions), which are folded
/// into one constant unless they read a global, and otherwise appended to
/// `const_ops` as a [`ConstExpr::Ops`].
fn const_expr(expr: &wasmparser::ConstExpr<'_>, const_ops: &mut Vec<ConstOp>) -> Result<ConstExpr, CompileError> {
    let mut reader = expr.get_operators_reader();
    let mut operators = Vec::new();
    while !reader.eof() {
        operators.push((reader.original_position(), reader.read()?));
    }
    match &operators[..] {
        [(offset, single), (_, Operator::End)] => one_instruction(single, *offset),
        [several @ .., (_, Operator::End)] => {
            let ops = several.iter().map(|(offset, op)| const_op(op, *offset)).collect::<Result<Vec<_>, _>>()?;
            if let Some(constant) = fold(&ops) {
                return Ok(constant);
            }
            let offset = several.first().map_or(0, |(offset, _)| *offset);
            let start = len_u32(const_ops.len(), offset, "constant instructions")?;
            let len = len_u32(ops.len(), offset, "a constant expression")?;
            const_ops.extend(ops);
            len_u32(const_ops.len(), offset, "constant instructions")?;
            Ok(ConstExpr::Ops { start, len })
        }
        _ => Err(unsupported(reader.original_position(), "constant expression without end")),
    }
}

/// One instruction of an extended constant expression.
fn const_op(op: &Operator<'_>, offset: usize) -> Result<ConstOp, CompileError> {
    Ok(match *op {
        Operator::I32Const { value } => ConstOp::I32(value),
        Operator::I64Const { value } => ConstOp::I64(value),
        Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
        Operator::I32Add => ConstOp::I32Add,
        Operator::I32Sub => ConstOp::I32Sub,
        Operator::I32Mul => ConstOp::I32Mul,
        Operator::I64Add => ConstOp::I64Add,
        Operator::I64Sub => ConstOp::I64Sub,
        Operator::I64Mul => ConstOp::I64Mul,
        ref other => return Err(unsupported(offset, format!("constant expression with {other:?}"))),
    })
}

/// The value of `ops` as one constant of the type of its last
/// instruction, if it reads no global.
fn fold(ops: &[ConstOp]) -> Option<ConstExpr> {
    if ops.iter().any(|op| matches!(op, ConstOp::GlobalGet(_))) {
        return None;
    }
    let mut stack = Vec::new();
    for op in ops {
        op.run(&mut stack, |_| 0);
    }
    let value = stack.pop()?;
    match ops.last()? {
        ConstOp::I32(_) | ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
            Some(ConstExpr::I32(value as u32 as i32))
        }
        ConstOp::I64(_) | ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => Some(ConstExpr::I64(value as i64)),
        ConstOp::GlobalGet(_) => None,
    }
}

/// A constant expression of one instruction.
fn one_instruction(op: &Operator<'_>, offset: usize) -> Result<ConstExpr, CompileError> {
    Ok(match *op {
        Operator::I32Const { value } => ConstExpr::I32(value),
        Operator::I64Const { value } => ConstExpr::I64(value),
        Operator::F32Const { value } => ConstExpr::F32(value.bits()),
        Operator::F64Const { value } => ConstExpr::F64(value.bits()),
        Operator::V128Const { value } => ConstExpr::V128(u128::from_le_bytes(*value.bytes())),
        Operator::GlobalGet { global_index } => ConstExpr::GlobalGet(global_index),
        Operator::RefNull { hty } => ConstExpr::RefNull(heap_type(hty, offset)?),
        Operator::RefFunc { function_index } => ConstExpr::RefFunc(function_index),
        ref other => return Err(unsupported(offset, format!("constant expression {other:?}"))),
    })
}

fn extern_kind(kind: wasmparser::ExternalKind, offset: usize) -> Result<ExternKind, CompileError> {
    match kind {
        wasmparser::ExternalKind::Func => Ok(ExternKind::Func),
        wasmparser::ExternalKind::Table => Ok(ExternKind::Table),
        wasmparser::ExternalKind::Memory => Ok(ExternKind::Memory),
        wasmparser::ExternalKind::Global => Ok(ExternKind::Global),
        wasmparser::ExternalKind::Tag => Err(unsupported(offset, "tag export")),
        wasmparser::ExternalKind::FuncExact => Err(unsupported(offset, "exact function export")),
    }
}

fn len_u32(n: usize, offset: usize, what: &str) -> Result<u32, CompileError> {
    u32::try_from(n).map_err(|_| unsupported(offset, format!("{what} larger than 4 GiB")))
}

/// Reads the function names of a name section. A malformed name section is
/// not an error (custom sections do not affect validity): whatever was read
/// before the problem is kept.
fn read_names(
    reader: wasmparser::NameSectionReader<'_>,
    module_name: &mut Option<String>,
    names: &mut Vec<(u32, String)>,
) {
    for subsection in reader {
        match subsection {
            Ok(Name::Module { name, .. }) => *module_name = Some(name.to_string()),
            Ok(Name::Function(map)) => {
                for naming in map {
                    match naming {
                        Ok(n) => names.push((n.index, n.name.to_string())),
                        Err(_) => break,
                    }
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// The imports of one import-section entry, which the compact encodings
/// (a later proposal, rejected by validation) group under one module name.
fn flatten_imports<'a>(group: Imports<'a>) -> Vec<Result<(&'a str, &'a str, TypeRef), wasmparser::BinaryReaderError>> {
    match group {
        Imports::Single(_, import) => vec![Ok((import.module, import.name, import.ty))],
        Imports::Compact1 { module, items } => {
            items.into_iter().map(|item| item.map(|item| (module, item.name, item.ty))).collect()
        }
        Imports::Compact2 { module, ty, names } => {
            names.into_iter().map(|name| name.map(|name| (module, name, ty))).collect()
        }
    }
}

/// The first function whose body is larger than `limit` bytes, as the
/// error that names it, if any. wasmparser's validator refuses such bodies
/// with a generic error; this runs before validation so the error names
/// the function. A module that does not parse has no such function here
/// (validation reports what is wrong with it).
pub(crate) fn oversized_body(wasm: &[u8], limit: usize) -> Option<CompileError> {
    let mut imported_funcs = 0u32;
    let mut defined = 0u32;
    let mut oversized = None;
    let mut module_name = None;
    let mut names = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.ok()? {
            Payload::ImportSection(reader) => {
                for group in reader {
                    for import in flatten_imports(group.ok()?) {
                        if matches!(import.ok()?.2, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                            imported_funcs += 1;
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let len = body.range().len();
                if oversized.is_none() && len > limit {
                    oversized = Some((imported_funcs.checked_add(defined)?, len));
                }
                defined += 1;
            }
            Payload::CustomSection(reader) => {
                if let KnownCustom::Name(reader) = reader.as_known() {
                    read_names(reader, &mut module_name, &mut names);
                }
            }
            _ => {}
        }
    }
    let (func, len) = oversized?;
    let name = names.iter().rev().find(|(i, _)| *i == func).map(|(_, n)| n.clone());
    Some(CompileError::FunctionTooLarge {
        func,
        name,
        reason: format!("its body is {len} bytes, more than the limit of {limit}"),
    })
}

/// Parses a module that [`crate::validate::validate`] accepted.
pub(crate) fn parse(wasm: &[u8]) -> Result<ParsedModule<'_>, CompileError> {
    let mut validator = crate::validate::validator();
    let mut meta = ModuleMeta {
        compiler_version: env!("CARGO_PKG_VERSION").to_string(),
        triple: String::new(),
        preset: String::new(),
        cpu_features: Vec::new(),
        bounds_checks: wasmc_abi::BoundsChecks::Guard,
        opt_level: String::new(),
        name: None,
        types: Vec::new(),
        imports: Vec::new(),
        tables: Vec::new(),
        memories: Vec::new(),
        globals: Vec::new(),
        const_ops: Vec::new(),
        start: None,
        elements: Vec::new(),
        data: Vec::new(),
        trampolines: Vec::new(),
        fuel_metering: false,
        memory_image: None,
        lists: OwnedLists::default(),
    };
    let mut func_types = Vec::new();
    let mut tables = Vec::new();
    let mut memories = Vec::new();
    let mut globals = Vec::new();
    let mut data = Vec::new();
    let mut bodies = Vec::new();

    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        let valid = validator.payload(&payload)?;
        match payload {
            Payload::TypeSection(reader) => {
                let offset = reader.range().start;
                for group in reader {
                    for sub in group?.into_types() {
                        let CompositeInnerType::Func(f) = &sub.composite_type.inner else {
                            return Err(unsupported(offset, "non-function type"));
                        };
                        let params = f.params().iter().map(|t| val_type(*t, offset)).collect::<Result<_, _>>()?;
                        let results = f.results().iter().map(|t| val_type(*t, offset)).collect::<Result<_, _>>()?;
                        meta.types.push(FuncType { params, results });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                let offset = reader.range().start;
                for group in reader {
                    for import in flatten_imports(group?) {
                        let (module, name, ty) = import?;
                        let ty = match ty {
                            TypeRef::Func(t) => {
                                func_types.push(t);
                                ImportType::Func(t)
                            }
                            TypeRef::Table(t) => {
                                let t = table_type(&t, offset)?;
                                tables.push(t);
                                ImportType::Table(t)
                            }
                            TypeRef::Memory(m) => {
                                let m = memory_type(&m, offset)?;
                                memories.push(m);
                                ImportType::Memory(m)
                            }
                            TypeRef::Global(g) => {
                                let g = global_type(&g, offset)?;
                                globals.push(g);
                                ImportType::Global(g)
                            }
                            TypeRef::Tag(_) => return Err(unsupported(offset, "tag import")),
                            TypeRef::FuncExact(_) => return Err(unsupported(offset, "exact function import")),
                        };
                        meta.imports.push(Import { module: module.to_string(), name: name.to_string(), ty });
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    let t = t?;
                    func_types.push(t);
                    meta.lists.funcs.push(FuncDef { type_index: t, code_offset: 0, code_len: 0, wasm_offset: 0 });
                }
            }
            Payload::TableSection(reader) => {
                let offset = reader.range().start;
                for table in reader {
                    let table = table?;
                    if !matches!(table.init, wasmparser::TableInit::RefNull) {
                        return Err(unsupported(offset, "table with an initialiser expression"));
                    }
                    let t = table_type(&table.ty, offset)?;
                    tables.push(t);
                    meta.tables.push(t);
                }
            }
            Payload::MemorySection(reader) => {
                let offset = reader.range().start;
                for m in reader {
                    let m = memory_type(&m?, offset)?;
                    memories.push(m);
                    meta.memories.push(m);
                }
            }
            Payload::GlobalSection(reader) => {
                let offset = reader.range().start;
                for g in reader {
                    let g = g?;
                    let ty = global_type(&g.ty, offset)?;
                    globals.push(ty);
                    let init = const_expr(&g.init_expr, &mut meta.const_ops)?;
                    meta.globals.push(GlobalDef { ty, init });
                }
            }
            Payload::ExportSection(reader) => {
                let offset = reader.range().start;
                for e in reader {
                    let e = e?;
                    meta.lists.exports.push(Export {
                        name: e.name.to_string(),
                        kind: extern_kind(e.kind, offset)?,
                        index: e.index,
                    });
                }
            }
            Payload::StartSection { func, .. } => meta.start = Some(func),
            Payload::ElementSection(reader) => {
                for elem in reader {
                    let elem = elem?;
                    let offset = elem.range.start;
                    let mode = match &elem.kind {
                        ElementKind::Passive => ElemMode::Passive,
                        ElementKind::Declared => ElemMode::Declared,
                        ElementKind::Active { table_index, offset_expr } => ElemMode::Active {
                            table: table_index.unwrap_or(0),
                            offset: const_expr(offset_expr, &mut meta.const_ops)?,
                        },
                    };
                    let (ty, items) = match elem.items {
                        ElementItems::Functions(funcs) => (
                            ValType::FuncRef,
                            funcs.into_iter().map(|f| f.map(ConstExpr::RefFunc)).collect::<Result<Vec<_>, _>>()?,
                        ),
                        ElementItems::Expressions(ty, exprs) => {
                            let mut items = Vec::new();
                            for e in exprs {
                                items.push(const_expr(&e?, &mut meta.const_ops)?);
                            }
                            (ref_type(ty, offset)?, items)
                        }
                    };
                    meta.elements.push(ElemSegment { mode, ty, items });
                }
            }
            Payload::DataSection(reader) => {
                for d in reader {
                    let d = d?;
                    let offset = d.range.start;
                    let mode = match &d.kind {
                        wasmparser::DataKind::Passive => DataMode::Passive,
                        wasmparser::DataKind::Active { memory_index, offset_expr } => DataMode::Active {
                            memory: *memory_index,
                            offset: const_expr(offset_expr, &mut meta.const_ops)?,
                        },
                    };
                    let data_offset = len_u32(data.len(), offset, "data")?;
                    let len = len_u32(d.data.len(), offset, "data segment")?;
                    data.extend_from_slice(d.data);
                    len_u32(data.len(), offset, "data")?;
                    meta.data.push(DataSegment { mode, data_offset, len });
                }
            }
            Payload::CustomSection(reader) => {
                if let KnownCustom::Name(names) = reader.as_known() {
                    read_names(names, &mut meta.name, &mut meta.lists.func_names);
                }
            }
            Payload::CodeSectionEntry(_) => {
                let ValidPayload::Func(validator, body) = valid else {
                    return Err(unsupported(0, "code entry without a function validator"));
                };
                // Imports precede the code section, so this is the index.
                let func_index = u32::try_from(func_types.len() - meta.lists.funcs.len() + bodies.len())
                    .map_err(|_| unsupported(body.range().start, "more than 2^32 functions"))?;
                let wasm_offset = len_u32(body.range().start, body.range().start, "module")?;
                if let Some(def) = meta.lists.funcs.get_mut(bodies.len()) {
                    def.wasm_offset = wasm_offset;
                }
                bodies.push(Body { func_index, body, validator });
            }
            _ => {}
        }
    }

    // Keep the last name of each function, sorted by index (the contract).
    meta.lists.func_names.sort_by_key(|(i, _)| *i);
    meta.lists.func_names.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = std::mem::take(&mut later.1);
            true
        } else {
            false
        }
    });
    let n_funcs = func_types.len();
    meta.lists.func_names.retain(|(i, _)| (*i as usize) < n_funcs);

    let counts = meta.vm_counts();
    let info = ModuleInfo {
        func_types,
        tables,
        memories,
        globals,
        imported_funcs: counts.imported_functions,
        imported_tables: counts.imported_tables,
        imported_memories: counts.imported_memories,
        imported_globals: counts.imported_globals,
        offsets: VMOffsets::new(counts),
        meta,
    };
    Ok(ParsedModule { info, data, bodies })
}

impl ModuleInfo {
    /// The type of function `index` (imports first).
    pub fn func_type(&self, index: u32) -> Option<&FuncType> {
        let t = *self.func_types.get(index as usize)?;
        self.meta.types.get(t as usize)
    }

    /// The name of function `index` in the name section, if any.
    pub fn func_name(&self, index: u32) -> Option<String> {
        let names = &self.meta.lists.func_names;
        let i = names.binary_search_by_key(&index, |(i, _)| *i).ok()?;
        Some(names[i].1.clone())
    }
}
