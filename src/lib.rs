//! tollgate: Kubernetes access as code. The library holds the pipeline; `main.rs` only parses arguments.
//!
//! The pure stages, in the order data flows through them:
//! [`config`] (load) -> [`validate`] -> [`compile`] -> [`plan`] -> [`render`].

pub mod config;
pub mod diagnostics;
pub mod validate;
pub mod compile;
pub mod objects;
pub mod plan;
pub mod render;
pub mod pipeline;
pub mod schema;
