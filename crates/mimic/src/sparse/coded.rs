//! One entry of a row of bytes: its position and its byte, packed in 32 bits.

/// A nonzero entry of a row of bytes (a pixel, say): its position, below
/// 2²⁴ = 16,777,216, and its byte, whose value a table gives
/// ([`SparseVector::coded`](crate::SparseVector::coded)).
///
/// Both live in one `u32` (position in the high 24 bits, byte in the low 8), so
/// a kernel reads an entry with one load, where a separate position and byte
/// would take two: the first layer's sparse sum waits on these loads. 4 bytes
/// an entry (8 for a `u32` position and an `f32` value).
///
/// ```
/// use mimic::sparse::CodedEntry;
///
/// let e = CodedEntry::new(783, 255).unwrap();
/// assert_eq!((e.position(), e.code()), (783, 255));
/// assert!(CodedEntry::new(1 << 24, 1).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct CodedEntry(u32);

impl CodedEntry {
    /// Positions must be below this.
    pub const POSITIONS: usize = 1 << 24;

    /// The entry at `position` with byte `code`; `None` unless `position` is
    /// below [`CodedEntry::POSITIONS`].
    #[inline]
    pub const fn new(position: usize, code: u8) -> Option<Self> {
        if position < Self::POSITIONS {
            Some(Self(((position as u32) << 8) | code as u32))
        } else {
            None
        }
    }

    /// [`CodedEntry::new`] for a position known to be below
    /// [`CodedEntry::POSITIONS`] (higher bits are dropped, never undefined).
    #[inline(always)]
    #[cfg(feature = "std")] // the listing that uses it needs `std`
    pub(crate) const fn truncated(position: usize, code: u8) -> Self {
        Self(((position as u32) << 8) | code as u32)
    }

    /// The position.
    #[inline(always)]
    pub const fn position(self) -> u32 {
        self.0 >> 8
    }

    /// The byte.
    #[inline(always)]
    pub const fn code(self) -> u8 {
        self.0 as u8
    }

    /// The entry's value: what `table` maps its byte to.
    #[inline(always)]
    pub fn value(self, table: &[f32; 256]) -> f32 {
        table[usize::from(self.code())]
    }
}

impl core::fmt::Debug for CodedEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CodedEntry")
            .field("position", &self.position())
            .field("code", &self.code())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_and_code_round_trip_at_the_edges() {
        for position in [0, 1, 255, 256, 65_535, 65_536, CodedEntry::POSITIONS - 1] {
            for code in [0, 1, 127, 128, 255] {
                let e = CodedEntry::new(position, code).unwrap();
                assert_eq!((e.position() as usize, e.code()), (position, code));
                assert_eq!(CodedEntry::truncated(position, code), e);
                let table: [f32; 256] = core::array::from_fn(|b| b as f32 * 0.5);
                assert_eq!(e.value(&table), f32::from(code) * 0.5);
            }
        }
        assert!(CodedEntry::new(CodedEntry::POSITIONS, 0).is_none());
        assert!(CodedEntry::new(usize::MAX, 0).is_none());
        assert_eq!(
            format!("{:?}", CodedEntry::new(3, 9).unwrap()),
            "CodedEntry { position: 3, code: 9 }"
        );
    }
}
