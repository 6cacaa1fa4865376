//! Initial memory images: the contents each defined memory has right after
//! its active data segments are applied, computed once per pool.
//!
//! A module gets images only when applying its data segments cannot trap
//! and needs nothing from outside the instance: every active segment
//! targets a memory the module defines, has a constant offset, and lies
//! within the memory's initial size. Then the segments are applied once,
//! in order, into a buffer, and only the host pages that are not all zero
//! are kept, as runs. Otherwise instantiation copies segments as usual.
//!
//! A pool slot gets the image either by copying the runs in (small images)
//! or by mapping them copy-on-write from an anonymous in-memory file
//! (`memfd`), so that resetting the slot with `madvise(MADV_DONTNEED)`
//! brings the image back without copying anything.

use std::fs::File;

use wasmc_abi::meta::{ConstExpr, DataMode, ImportType, ModuleMeta};
use wasmc_abi::WASM_PAGE_SIZE;

use crate::error::Error;
use crate::sys::unix::memfd;

/// A run of host pages of an image that are not all zero.
#[derive(Debug)]
pub(crate) struct Run {
    /// Byte offset in the memory (host-page aligned).
    pub offset: usize,
    /// The run's bytes (a whole number of host pages).
    pub bytes: Box<[u8]>,
}

/// One defined memory's initial contents beyond zero.
#[derive(Debug)]
pub(crate) struct MemoryImage {
    pub runs: Vec<Run>,
    /// The runs at their memory offsets in a sparse in-memory file, when
    /// slots map the image rather than copy it.
    pub file: Option<File>,
}

impl MemoryImage {
    /// Bytes the runs cover.
    pub(crate) fn len(&self) -> usize {
        self.runs.iter().map(|r| r.bytes.len()).sum()
    }
}

/// Images for every defined memory (by defined index), or `None` when the
/// module's data segments must be applied at each instantiation.
/// Images of at least `map_min_bytes` bytes are put in an in-memory file.
pub(crate) fn build(
    meta: &ModuleMeta,
    data: &[u8],
    page: usize,
    map_min_bytes: usize,
) -> Result<Option<Vec<MemoryImage>>, Error> {
    let imported = meta.imports.iter().filter(|i| matches!(i.ty, ImportType::Memory(_))).count();
    let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); meta.memories.len()];
    for segment in &meta.data {
        let DataMode::Active { memory, offset } = segment.mode else { continue };
        let Some(defined) = (memory as usize).checked_sub(imported) else { return Ok(None) };
        let ConstExpr::I32(offset) = offset else { return Ok(None) };
        let Some(ty) = meta.memories.get(defined) else { return Ok(None) };
        let start = offset as u32 as usize;
        let end = start + segment.len as usize;
        let initial = u64::from(ty.min_pages) * WASM_PAGE_SIZE;
        if end as u64 > initial {
            return Ok(None);
        }
        let data_start = segment.data_offset as usize;
        let Some(src) = data.get(data_start..data_start + segment.len as usize) else { return Ok(None) };
        let buffer = &mut buffers[defined];
        if buffer.len() < end {
            buffer.resize(end.div_ceil(page) * page, 0);
        }
        buffer[start..end].copy_from_slice(src);
    }
    let mut images = Vec::with_capacity(buffers.len());
    for buffer in buffers {
        let runs = runs(&buffer, page);
        let mut image = MemoryImage { runs, file: None };
        if image.len() >= map_min_bytes && !image.runs.is_empty() {
            image.file = Some(
                in_memory_file(&image, buffer.len())
                    .map_err(|e| Error::Resource(format!("cannot create the memory image file: {e}")))?,
            );
        }
        images.push(image);
    }
    Ok(Some(images))
}

/// The maximal runs of host pages of `buffer` (a whole number of pages)
/// that contain a non-zero byte.
fn runs(buffer: &[u8], page: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut start: Option<usize> = None;
    for (i, chunk) in buffer.chunks(page).enumerate() {
        let nonzero = chunk.iter().any(|&b| b != 0);
        match (nonzero, start) {
            (true, None) => start = Some(i * page),
            (false, Some(s)) => {
                runs.push(Run { offset: s, bytes: buffer[s..i * page].into() });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(Run { offset: s, bytes: buffer[s..].into() });
    }
    runs
}

fn in_memory_file(image: &MemoryImage, len: usize) -> std::io::Result<File> {
    let file = memfd::create(c"wasmc-memory-image", len as u64)?;
    for run in &image.runs {
        memfd::write_at(&file, &run.bytes, run.offset as u64)?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_skip_zero_pages() {
        let mut buffer = vec![0u8; 5 * 4096];
        buffer[10] = 1;
        buffer[4096 * 2 + 5] = 2;
        buffer[4096 * 3] = 3;
        let runs = runs(&buffer, 4096);
        let got: Vec<(usize, usize)> = runs.iter().map(|r| (r.offset, r.bytes.len())).collect();
        assert_eq!(got, vec![(0, 4096), (8192, 8192)]);
        assert_eq!(runs[1].bytes[5], 2);
    }
}
