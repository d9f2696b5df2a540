//! Sets.

use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;

/// A set value.
#[derive(Clone, Debug, Default)]
pub struct Set {}

impl Set {
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

pub fn sadd(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn srem(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn smembers(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sismember(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn smismember(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn scard(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn spop(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn srandmember(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn smove(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sinter(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sintercard(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sunion(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sdiff(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sinterstore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sunionstore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sdiffstore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn sscan(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}
