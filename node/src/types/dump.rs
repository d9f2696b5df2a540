//! DUMP and RESTORE.

use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;

pub fn dump(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}

pub fn restore(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR not implemented yet"))
}
