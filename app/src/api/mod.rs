//! Server functions, one module per domain.

mod audit;
mod catalog;
mod curation;
mod drift;
mod proposals;
mod refresh;
mod server_page;
mod session;
mod virtual_servers;
mod wire;

pub use audit::*;
pub use catalog::*;
pub use curation::*;
pub use drift::*;
pub use proposals::*;
pub use refresh::*;
pub use server_page::*;
pub use session::*;
pub use virtual_servers::*;
pub use wire::{load, load_once, Loading};
