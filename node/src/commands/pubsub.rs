//! Pub/sub.

use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;

pub fn subscribe(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn unsubscribe(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn psubscribe(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn punsubscribe(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn publish(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn pubsub_channels(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn pubsub_numsub(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn pubsub_numpat(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn pubsub_shardchannels(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn pubsub_shardnumsub(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn ssubscribe(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sunsubscribe(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn spublish(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}
