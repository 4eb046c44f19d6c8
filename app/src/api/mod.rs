//! Server functions, one module per domain.

mod catalog;
mod session;

pub use catalog::*;
pub use session::*;
