//! Bulk operations done in chunks, with the call's deadline checked
//! between them, so that a `memory.copy` of 4 GiB or a `table.fill` of
//! millions of elements stops soon after the deadline instead of running
//! to the end. A stopped operation has done a prefix of its work (in the
//! order it goes: backwards for an overlapping copy to a higher address).
//!
//! Callers check bounds first: these functions only ever see ranges that
//! lie within their slices.

use wasmc_abi::TrapKind;

use crate::vm::limits::Deadline;

/// Fills `items` with `value`, `chunk` elements at a time.
pub(crate) fn fill<T: Copy>(items: &mut [T], value: T, chunk: usize, deadline: Deadline) -> Result<(), TrapKind> {
    for (i, piece) in items.chunks_mut(chunk.max(1)).enumerate() {
        if i > 0 {
            deadline.check()?;
        }
        piece.fill(value);
    }
    Ok(())
}

/// Copies `items[src..src + len]` to `items[dst..]` as `memmove` would,
/// `chunk` elements at a time: from the end backwards when `dst > src`,
/// so that overlapping ranges come out right.
pub(crate) fn copy_within<T: Copy>(
    items: &mut [T],
    src: usize,
    dst: usize,
    len: usize,
    chunk: usize,
    deadline: Deadline,
) -> Result<(), TrapKind> {
    let chunk = chunk.max(1);
    let mut done = 0;
    while done < len {
        if done > 0 {
            deadline.check()?;
        }
        let n = (len - done).min(chunk);
        // A piece's destination never overlaps the source of a piece still
        // to come: going backwards, later pieces lie below this one and
        // `dst > src`; going forwards, above it and `dst <= src`.
        let at = if dst > src { len - done - n } else { done };
        items.copy_within(src + at..src + at + n, dst + at);
        done += n;
    }
    Ok(())
}

/// Copies `src` into `dst` (of the same length), `chunk` elements at a time.
pub(crate) fn copy<T: Copy>(dst: &mut [T], src: &[T], chunk: usize, deadline: Deadline) -> Result<(), TrapKind> {
    let chunk = chunk.max(1);
    for (i, (d, s)) in dst.chunks_mut(chunk).zip(src.chunks(chunk)).enumerate() {
        if i > 0 {
            deadline.check()?;
        }
        d.copy_from_slice(s);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::limits::StoreLimits;

    fn no_deadline() -> Deadline {
        StoreLimits::new().deadline()
    }

    #[test]
    fn chunked_copies_within_one_slice_behave_like_memmove_in_both_directions() {
        for (src, dst, len) in [(0, 3, 17), (3, 0, 17), (5, 5, 10), (0, 1, 19), (1, 0, 19), (2, 9, 4)] {
            for chunk in [1, 2, 3, 7, 64] {
                let mut got: Vec<u32> = (0..20).collect();
                let mut want = got.clone();
                want.copy_within(src..src + len, dst);
                copy_within(&mut got, src, dst, len, chunk, no_deadline()).unwrap();
                assert_eq!(got, want, "src {src} dst {dst} len {len} chunk {chunk}");
            }
        }
    }

    #[test]
    fn chunked_fill_and_copy_cover_every_element() {
        let mut items = vec![0u8; 1000];
        fill(&mut items[10..990], 7, 64, no_deadline()).unwrap();
        assert!(items[10..990].iter().all(|&b| b == 7) && items[..10].iter().all(|&b| b == 0));
        let src: Vec<u8> = (0..=255).cycle().take(1000).collect();
        copy(&mut items, &src, 33, no_deadline()).unwrap();
        assert_eq!(items, src);
    }

    #[test]
    fn past_the_deadline_only_the_first_chunk_is_done() {
        let mut items = vec![0u8; 100];
        assert_eq!(fill(&mut items, 1, 10, Deadline::passed()), Err(TrapKind::Interrupted));
        assert_eq!(items.iter().filter(|&&b| b == 1).count(), 10);
        let mut items: Vec<u8> = (0..100).collect();
        assert_eq!(copy_within(&mut items, 0, 1, 99, 10, Deadline::passed()), Err(TrapKind::Interrupted));
        // Backwards: the last ten bytes moved first.
        assert_eq!(&items[90..], &(89..99).collect::<Vec<u8>>()[..]);
        assert_eq!(&items[..90], &(0..90).collect::<Vec<u8>>()[..]);
        // A single chunk always completes.
        let mut items = vec![0u8; 10];
        fill(&mut items, 1, 10, Deadline::passed()).unwrap();
    }
}
