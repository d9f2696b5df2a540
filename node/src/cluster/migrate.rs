//! `MIGRATE` and `RESTORE-ASKING` (being written).

use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;

pub fn migrate(_ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    Err(CmdError::Static("ERR MIGRATE is not implemented yet"))
}

/// `RESTORE-ASKING`: `RESTORE`, also in a slot being imported (the command acts as `ASKING`).
pub fn restore_asking(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    crate::types::dump::restore(ctx, a)
}
