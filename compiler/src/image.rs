//! The initial memory image (`ModuleMeta::memory_image`): the defined
//! memories' contents after every active data segment is applied, so the
//! loader can map them copy-on-write from the artifact instead of copying
//! segments at each instantiation.
//!
//! A module gets an image only when it has at least
//! [`IMAGE_MIN_DATA_BYTES`] of active data and applying its segments can
//! neither trap nor depend on imports: each active segment targets a defined
//! memory, at a constant offset, within the memory's initial size. The
//! segments are applied in order onto chunks of [`IMAGE_ALIGN`] bytes; the
//! chunks left all zero are dropped and adjacent ones form runs. An image
//! larger than [`MAX_IMAGE_GROWTH`] times the data (plus a megabyte), as
//! scattered tiny segments could make it, is not built: those modules copy
//! their segments as before.

use std::collections::BTreeMap;

use wasmc_abi::artifact::{IMAGE_ALIGN, IMAGE_MIN_DATA_BYTES};
use wasmc_abi::meta::{ConstExpr, DataMode, ExternKind, ImageRun, ModuleMeta};
use wasmc_abi::WASM_PAGE_SIZE;

/// How many times the data-section size an image may take.
const MAX_IMAGE_GROWTH: usize = 16;

/// The image's runs and the section bytes they refer to, or `None` when
/// the module's segments must be applied at instantiation.
pub(crate) fn build(meta: &ModuleMeta, data: &[u8]) -> Option<(Vec<ImageRun>, Vec<u8>)> {
    let active = meta.data.iter().filter(|d| matches!(d.mode, DataMode::Active { .. }));
    if active.map(|d| u64::from(d.len)).sum::<u64>() < IMAGE_MIN_DATA_BYTES {
        return None;
    }
    let chunk = IMAGE_ALIGN as usize;
    let budget = data.len().saturating_mul(MAX_IMAGE_GROWTH).saturating_add(1 << 20) / chunk;
    let imported = meta.imported(ExternKind::Memory) as usize;
    // (defined memory, chunk index) -> chunk bytes.
    let mut chunks: BTreeMap<(u32, u64), Vec<u8>> = BTreeMap::new();
    for segment in &meta.data {
        let DataMode::Active { memory, offset } = segment.mode else { continue };
        let defined = (memory as usize).checked_sub(imported)?;
        let ConstExpr::I32(offset) = offset else { return None };
        let initial = u64::from(meta.memories.get(defined)?.min_pages) * WASM_PAGE_SIZE;
        let start = u64::from(offset as u32);
        if start + u64::from(segment.len) > initial {
            return None;
        }
        let src = data.get(segment.data_offset as usize..)?.get(..segment.len as usize)?;
        let (mut at, mut rest) = (start, src);
        while !rest.is_empty() {
            let within = (at % IMAGE_ALIGN) as usize;
            let n = rest.len().min(chunk - within);
            let bytes = chunks.entry((defined as u32, at / IMAGE_ALIGN)).or_insert_with(|| vec![0; chunk]);
            bytes[within..within + n].copy_from_slice(&rest[..n]);
            (at, rest) = (at + n as u64, &rest[n..]);
            if chunks.len() > budget {
                return None;
            }
        }
    }
    let mut runs: Vec<ImageRun> = Vec::new();
    let mut section = Vec::new();
    for ((memory, index), bytes) in chunks {
        if bytes.iter().all(|&b| b == 0) {
            continue;
        }
        let memory_offset = index * IMAGE_ALIGN;
        match runs.last_mut() {
            Some(run) if run.memory == memory && run.memory_offset + run.len == memory_offset => run.len += IMAGE_ALIGN,
            _ => runs.push(ImageRun { memory, memory_offset, image_offset: section.len() as u64, len: IMAGE_ALIGN }),
        }
        section.extend_from_slice(&bytes);
    }
    Some((runs, section))
}
