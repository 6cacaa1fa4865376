//! Structured control flow: `block`, `loop`, `if`/`else`, `end`, branches,
//! `return` and `unreachable`, and skipping unreachable code.
//!
//! Each open construct is a [`Frame`]. A branch to a `block` or `if` goes to
//! its `next` block (the code after `end`), whose parameters are the
//! construct's results; a branch to a `loop` goes to its header, whose
//! parameters are the loop's parameters. After an unconditional transfer
//! the translator is unreachable until an `else` or `end` of a live frame:
//! constructs opened meanwhile get no frame, only a count
//! (`Translator::dead_depth`).
//!
//! A later `try_table` (exception handling) is one more [`FrameKind`] with
//! its catch clauses; its `end` works like a block's.

use cranelift_codegen::ir::{self, BlockArg, InstBuilder, JumpTableData};
use wasmparser::{BlockType, Operator};

use super::{clif_val_type, Translator, WasmError, WasmResult};

/// What kind of construct a frame is.
#[derive(Debug)]
pub(super) enum FrameKind {
    /// A `block` (or the function body).
    Block,
    /// A `loop`: branches go to `header`.
    Loop { header: ir::Block },
    /// An `if`: the condition's false edge goes to `else_block`, which takes
    /// the construct's parameters; `has_else` once `else` was seen.
    If { else_block: ir::Block, has_else: bool },
}

/// An open construct.
#[derive(Debug)]
pub(super) struct Frame {
    kind: FrameKind,
    /// The code after `end`; its parameters are the results.
    next: ir::Block,
    /// Number of parameters.
    params: usize,
    /// Number of results.
    results: usize,
    /// Operand stack height below the parameters.
    height: usize,
    /// Whether a branch or a fallthrough reaches `next`.
    next_reachable: bool,
}

impl Frame {
    /// The frame of the function body, whose `next` is the exit block.
    pub(super) fn function(exit: ir::Block, results: usize) -> Frame {
        Frame { kind: FrameKind::Block, next: exit, params: 0, results, height: 0, next_reachable: false }
    }

    /// Where a branch to this frame goes, and how many values it carries.
    fn branch_target(&self) -> (ir::Block, usize) {
        match self.kind {
            FrameKind::Loop { header } => (header, self.params),
            _ => (self.next, self.results),
        }
    }
}

fn block_args(values: &[ir::Value]) -> Vec<BlockArg> {
    values.iter().map(|v| BlockArg::Value(*v)).collect()
}

impl Translator<'_, '_, '_> {
    /// Parameter and result types of a block type.
    fn block_signature(&self, ty: BlockType) -> WasmResult<(Vec<ir::Type>, Vec<ir::Type>)> {
        match ty {
            BlockType::Empty => Ok((Vec::new(), Vec::new())),
            BlockType::Type(t) => Ok((Vec::new(), vec![clif_val_type(t)?])),
            BlockType::FuncType(index) => {
                let ty = self.env.type_of(index)?;
                let params = ty.params.iter().map(|t| crate::func_env::clif_type(*t)).collect();
                let results = ty.results.iter().map(|t| crate::func_env::clif_type(*t)).collect();
                Ok((params, results))
            }
        }
    }

    /// A new block with parameters of `types`.
    fn block_with_params(&mut self, types: &[ir::Type]) -> ir::Block {
        let block = self.builder.create_block();
        for ty in types {
            self.builder.append_block_param(block, *ty);
        }
        block
    }

    fn jump(&mut self, target: ir::Block, args: &[ir::Value]) {
        self.builder.ins().jump(target, &block_args(args));
    }

    /// Switches to `block` and pushes its parameters.
    fn enter(&mut self, block: ir::Block) {
        self.builder.switch_to_block(block);
        let params = self.builder.block_params(block).to_vec();
        self.stack.extend(params);
    }

    /// The frame `depth` levels out (0: the innermost).
    fn frame_mut(&mut self, depth: u32) -> WasmResult<&mut Frame> {
        let i = self
            .control
            .len()
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| WasmError::invalid("branch depth out of range"))?;
        Ok(&mut self.control[i])
    }

    /// The target of a branch `depth` levels out, marking a block's
    /// `next` as reached.
    fn branch_to(&mut self, depth: u32) -> WasmResult<(ir::Block, usize)> {
        let frame = self.frame_mut(depth)?;
        if !matches!(frame.kind, FrameKind::Loop { .. }) {
            frame.next_reachable = true;
        }
        Ok(frame.branch_target())
    }

    /// Translates a control operator; `false` if `op` is not one.
    pub(super) fn control_operator(&mut self, op: &Operator<'_>) -> WasmResult<bool> {
        use Operator as O;
        match *op {
            O::Block { blockty } => {
                let (params, results) = self.block_signature(blockty)?;
                let next = self.block_with_params(&results);
                let height = self.stack.len() - params.len();
                self.control.push(Frame {
                    kind: FrameKind::Block,
                    next,
                    params: params.len(),
                    results: results.len(),
                    height,
                    next_reachable: false,
                });
            }
            O::Loop { blockty } => {
                let (params, results) = self.block_signature(blockty)?;
                let header = self.block_with_params(&params);
                let next = self.block_with_params(&results);
                let args = self.pop_n(params.len());
                self.jump(header, &args);
                let height = self.stack.len();
                self.enter(header);
                self.control.push(Frame {
                    kind: FrameKind::Loop { header },
                    next,
                    params: params.len(),
                    results: results.len(),
                    height,
                    next_reachable: false,
                });
                self.env.interrupt_loop_header(&mut self.builder)?;
            }
            O::If { blockty } => {
                let (params, results) = self.block_signature(blockty)?;
                let cond = self.pop();
                let then_block = self.builder.create_block();
                let else_block = self.block_with_params(&params);
                let next = self.block_with_params(&results);
                let args = block_args(self.peek(params.len()));
                self.builder.ins().brif(cond, then_block, &[], else_block, &args);
                self.builder.seal_block(then_block);
                self.builder.seal_block(else_block);
                self.builder.switch_to_block(then_block);
                let height = self.stack.len() - params.len();
                self.control.push(Frame {
                    kind: FrameKind::If { else_block, has_else: false },
                    next,
                    params: params.len(),
                    results: results.len(),
                    height,
                    next_reachable: false,
                });
            }
            O::Else => {
                let (next, results) = {
                    let frame = self.frame_mut(0)?;
                    frame.next_reachable = true;
                    (frame.next, frame.results)
                };
                let args = self.pop_n(results);
                self.jump(next, &args);
                self.start_else()?;
            }
            O::End => {
                let frame = self.control.pop().ok_or_else(|| WasmError::invalid("end without a block"))?;
                let args = self.pop_n(frame.results);
                self.jump(frame.next, &args);
                self.close(Frame { next_reachable: true, ..frame });
            }
            O::Br { relative_depth } => {
                let (target, arity) = self.branch_to(relative_depth)?;
                let args = self.peek(arity).to_vec();
                self.jump(target, &args);
                self.reachable = false;
            }
            O::BrIf { relative_depth } => {
                let cond = self.pop();
                let (target, arity) = self.branch_to(relative_depth)?;
                let args = block_args(self.peek(arity));
                let next = self.builder.create_block();
                self.builder.ins().brif(cond, target, &args, next, &[]);
                self.builder.seal_block(next);
                self.builder.switch_to_block(next);
            }
            O::BrTable { ref targets } => {
                let depths = targets.targets().collect::<Result<Vec<u32>, _>>()?;
                self.br_table(&depths, targets.default())?;
            }
            O::Return => {
                let results = self.control[0].results;
                let values = self.peek(results).to_vec();
                self.builder.ins().return_(&values);
                self.reachable = false;
            }
            O::Unreachable => {
                self.builder.ins().trap(crate::func_env::trap::UNREACHABLE);
                self.reachable = false;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `br_table`: CLIF jump tables carry no arguments, so with values to
    /// pass, each distinct target gets a block that jumps on with them.
    fn br_table(&mut self, depths: &[u32], default: u32) -> WasmResult<()> {
        let index = self.pop();
        let (_, arity) = self.branch_to(default)?;
        let mut edges: Vec<(u32, ir::Block)> = Vec::new();
        let mut edge_block = |t: &mut Self, depth: u32| -> WasmResult<ir::Block> {
            if arity == 0 {
                return Ok(t.branch_to(depth)?.0);
            }
            if let Some((_, block)) = edges.iter().find(|(d, _)| *d == depth) {
                return Ok(*block);
            }
            let block = t.builder.create_block();
            edges.push((depth, block));
            Ok(block)
        };
        let mut table = Vec::with_capacity(depths.len());
        for depth in depths {
            let block = edge_block(self, *depth)?;
            table.push(self.builder.func.dfg.block_call(block, &[]));
        }
        let default_block = edge_block(self, default)?;
        let default_call = self.builder.func.dfg.block_call(default_block, &[]);
        let jt = self.builder.create_jump_table(JumpTableData::new(default_call, &table));
        self.builder.ins().br_table(index, jt);
        let args = self.peek(arity).to_vec();
        for (depth, block) in edges {
            self.builder.seal_block(block);
            self.builder.switch_to_block(block);
            let (target, _) = self.branch_to(depth)?;
            self.jump(target, &args);
        }
        self.reachable = false;
        Ok(())
    }

    /// Starts the `else` arm of the innermost frame, an `if`.
    fn start_else(&mut self) -> WasmResult<()> {
        let frame = self.frame_mut(0)?;
        let FrameKind::If { else_block, ref mut has_else } = frame.kind else {
            return Err(WasmError::invalid("else outside an if"));
        };
        *has_else = true;
        let height = frame.height;
        self.stack.truncate(height);
        self.enter(else_block);
        self.reachable = true;
        Ok(())
    }

    /// Closes `frame` (popped, its fallthrough already emitted if any):
    /// emits the implicit `else` of an `if` without one, seals what is now
    /// complete and continues at `next` if anything reaches it.
    fn close(&mut self, mut frame: Frame) {
        self.stack.truncate(frame.height);
        match frame.kind {
            FrameKind::If { else_block, has_else: false } => {
                // Without `else` the parameters are the results.
                self.builder.switch_to_block(else_block);
                let params = self.builder.block_params(else_block).to_vec();
                self.jump(frame.next, &params);
                frame.next_reachable = true;
            }
            FrameKind::Loop { header } => self.builder.seal_block(header),
            _ => {}
        }
        self.builder.seal_block(frame.next);
        if frame.next_reachable {
            self.enter(frame.next);
            self.reachable = true;
        } else {
            self.reachable = false;
        }
    }

    /// An operator in unreachable code: only the structure matters.
    pub(super) fn unreachable_operator(&mut self, op: &Operator<'_>) -> WasmResult<()> {
        use Operator as O;
        match op {
            O::Block { .. } | O::Loop { .. } | O::If { .. } => self.dead_depth += 1,
            O::Else if self.dead_depth == 0 => self.start_else()?,
            O::End if self.dead_depth == 0 => {
                let frame = self.control.pop().ok_or_else(|| WasmError::invalid("end without a block"))?;
                self.close(frame);
            }
            O::End => self.dead_depth -= 1,
            _ => {}
        }
        Ok(())
    }
}
