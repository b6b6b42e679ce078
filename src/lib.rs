//! tollgate: Kubernetes access as code. The library holds the pipeline; `main.rs` only parses arguments.
//!
//! The pure stages, in the order data flows through them:
//! [`config`] (load) -> [`validate`] -> [`compile`] -> [`plan`] -> [`render`]. At the edges, with I/O:
//! [`cluster`] reads the live state and makes the writes [`apply`] decides; [`wireguard`] is the VPN gateway and
//! the developer's side of the tunnel.

pub mod apply;
pub mod cluster;
pub mod compile;
pub mod config;
pub mod controller;
pub mod credentials;
pub mod diagnostics;
pub mod files;
pub mod git;
pub mod history;
mod lenient;
pub mod objects;
pub mod pipeline;
pub mod plan;
pub mod publish;
pub mod question;
pub mod rbac;
pub mod render;
pub mod schema;
pub mod sessions;
pub mod signing;
pub mod synthetic;
pub mod text;
pub mod validate;
pub mod who;
pub mod wireguard;
