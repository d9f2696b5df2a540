//! slotkv-client: the async smart cluster client. Built in issue 7; for now it re-exports the protocol
//! crate so dependents compile against the final crate layout.

pub use slotkv_proto as proto;
