//! Sparse inputs: only the nonzero entries of a vector.
//!
//! A zero input contributes nothing to a layer's output nor to its weights'
//! update. Listing each row's nonzero entries once, up front, lets the first layer
//! skip the rest in both the forward pass and the update (on MNIST, where 19.1% of
//! pixels are nonzero, a fifth of the dense work), with bit-identical results.
//!
//! Entries are kept in one of two layouts (`Entries`, internal): any values as a
//! `u32` position and an `f32` (8 bytes an entry), or — for rows of bytes such as
//! images — a [`CodedEntry`]: the position and the byte itself in 32 bits, the
//! byte mapped to its value by a 256-entry table (4 bytes an entry). The kernels read either; the values, and so
//! every result, are the same bits.

mod coded;
#[cfg(feature = "std")]
mod listing;
#[cfg(feature = "std")]
mod rows;
mod vector;

pub use coded::CodedEntry;

#[cfg(feature = "std")]
pub use rows::{RowOutOfRange, SparseRows};
pub(crate) use vector::Entries;
pub use vector::SparseVector;
