//! Server functions, one module per domain.

mod catalog;
mod server_page;
mod session;

pub use catalog::*;
pub use server_page::*;
pub use session::*;
