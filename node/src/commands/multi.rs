//! MULTI/EXEC/WATCH.

use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;

pub fn multi(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn exec(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn discard(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn watch(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn unwatch(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}
