//! Client credentials: what a `Client` document turns into besides its ServiceAccount. IP ranges from the
//! cluster's pool, the client file that carries a client's kubeconfig and WireGuard settings, and the age
//! encryption that lets only the client's recipients read it.

pub mod addresses;
pub mod client_file;
pub mod index;
pub mod kubeconfig;
pub mod listing;
pub mod peers;
pub mod reconcile;
mod revocation;
pub mod seal;
pub mod state;
mod store;
mod tokens;

pub use store::{CredentialsError, read_client_states};
