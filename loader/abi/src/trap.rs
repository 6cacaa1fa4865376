//! Trap codes shared by the compiler's trap table and the loader's errors.

/// Why wasm code stopped. Encoded as one byte in the artifact's trap table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TrapKind {
    /// The wasm stack limit was reached (`assert_exhaustion`).
    StackOverflow = 0,
    /// A linear-memory access outside the accessible bytes.
    MemoryOutOfBounds = 1,
    /// A misaligned atomic access (reserved for the threads proposal).
    HeapMisaligned = 2,
    /// A table access outside the table's current size.
    TableOutOfBounds = 3,
    /// `call_indirect` or `call_ref` on a null reference.
    IndirectCallToNull = 4,
    /// `call_indirect` to a function of another type.
    BadSignature = 5,
    /// Signed integer division overflowed (`INT_MIN / -1`).
    IntegerOverflow = 6,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero = 7,
    /// A float-to-int conversion of NaN or a value out of range.
    BadConversionToInteger = 8,
    /// `unreachable` was executed.
    UnreachableCodeReached = 9,
    /// The deadline (epoch) passed or fuel ran out.
    Interrupted = 10,
    /// A null reference was dereferenced.
    NullReference = 11,
    /// A host function returned an error.
    HostError = 12,
    /// A fault in wasm code that no trap-table entry explains.
    UnknownFault = 13,
}

impl TrapKind {
    /// Every trap kind, in code order.
    pub const ALL: [TrapKind; 14] = [
        TrapKind::StackOverflow,
        TrapKind::MemoryOutOfBounds,
        TrapKind::HeapMisaligned,
        TrapKind::TableOutOfBounds,
        TrapKind::IndirectCallToNull,
        TrapKind::BadSignature,
        TrapKind::IntegerOverflow,
        TrapKind::IntegerDivisionByZero,
        TrapKind::BadConversionToInteger,
        TrapKind::UnreachableCodeReached,
        TrapKind::Interrupted,
        TrapKind::NullReference,
        TrapKind::HostError,
        TrapKind::UnknownFault,
    ];

    /// Decodes the byte written by [`TrapKind::to_u8`].
    pub fn from_u8(code: u8) -> Option<TrapKind> {
        TrapKind::ALL.get(usize::from(code)).copied()
    }

    /// The byte stored in the trap table.
    pub fn to_u8(self) -> u8 {
        self as u8
    }

    /// The message the WebAssembly spec tests expect for this trap
    /// (`assert_trap` compares by prefix).
    pub fn message(self) -> &'static str {
        match self {
            TrapKind::StackOverflow => "call stack exhausted",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::HeapMisaligned => "unaligned atomic",
            TrapKind::TableOutOfBounds => "undefined element",
            TrapKind::IndirectCallToNull => "uninitialized element",
            TrapKind::BadSignature => "indirect call type mismatch",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::IntegerDivisionByZero => "integer divide by zero",
            TrapKind::BadConversionToInteger => "invalid conversion to integer",
            TrapKind::UnreachableCodeReached => "unreachable",
            TrapKind::Interrupted => "interrupted",
            TrapKind::NullReference => "null reference",
            TrapKind::HostError => "host function error",
            TrapKind::UnknownFault => "unexpected fault in wasm code",
        }
    }
}

impl core::fmt::Display for TrapKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (i, kind) in TrapKind::ALL.iter().enumerate() {
            assert_eq!(usize::from(kind.to_u8()), i);
            assert_eq!(TrapKind::from_u8(kind.to_u8()), Some(*kind));
        }
        assert_eq!(TrapKind::from_u8(TrapKind::ALL.len() as u8), None);
    }
}
