//! Sorted sets.

use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;

/// A sorted set value.
#[derive(Clone, Debug, Default)]
pub struct Zset {}

impl Zset {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        true
    }

    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}

pub fn zadd(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zincrby(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrem(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zcard(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zcount(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zlexcount(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zscore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zmscore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrank(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrevrank(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrange(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrangebyscore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrevrangebyscore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrangebylex(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrevrangebylex(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrevrange(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrangestore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zremrangebyrank(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zremrangebyscore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zremrangebylex(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zpopmin(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zpopmax(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn bzpopmin(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn bzpopmax(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zmpop(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn bzmpop(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zunion(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zinter(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zdiff(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zunionstore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zinterstore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zdiffstore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zintercard(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zrandmember(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn zscan(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}
