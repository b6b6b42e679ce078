//! The VPN door: the cluster's WireGuard gateway and the developer's side of the tunnel, both userspace WireGuard
//! devices from boringtun (no kernel module needed). [`peers`] is pure (the peer list, the UAPI text, the diff),
//! and so is [`reach`] (where a client may go, from the compiled bindings);
//! [`device`] drives a boringtun device and the interface's addresses and routes; [`gateway`] is the gateway's
//! reconcile loop.

pub mod device;
pub mod gateway;
pub mod peers;
pub mod reach;
