//! The access repository as written: typed documents, the files they come from, and loading them.

pub mod documents;
pub mod load;
pub mod source;

pub use documents::Kind;
pub use load::{Document, LoadedRepository, load};
