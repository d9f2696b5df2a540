//! The protocol crate every slotkv process shares. It has no runtime: bytes in, frames out.
//!
//! # Layout
//! - [`request`]: parsing client requests (RESP multibulk and inline), with protocol limits.
//! - [`reply`]: writing replies in RESP2 or RESP3.
//! - [`frame`]: parsing any RESP2/RESP3 reply into a [`frame::Frame`] (clients, tests, router).
//! - [`slot`]: key to hash slot (CRC16-XMODEM with hash tags).
//! - [`command`]: the command table (arity, flags, key positions) that node, client and router read.

pub mod command;
pub mod frame;
pub mod reply;
pub mod request;
pub mod slot;

pub use command::{lookup, lookup_sub, CommandId, CommandSpec, COMMANDS};
pub use frame::{encode_command, parse_frame, Frame, FrameError, FrameLimits};
pub use reply::Out;
pub use request::{parse_request, Args, Limits, Parsed, ProtocolError};
pub use slot::{key_slot, SLOT_COUNT};
