//! `DUMP` and `RESTORE`: a key's value as a self-checking payload ([`crate::db::serialize`]), and back.

use super::{int_arg, is};
use crate::db::serialize::{self, BadPayload};
use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;

pub fn dump(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let payload = ctx.srv.db.get(a.get(1).copied().unwrap_or_default(), now).map(serialize::encode);
    match payload {
        Some(p) => ctx.me.out.bulk(&p),
        None => ctx.me.out.null(),
    }
    Ok(())
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`. Checks in Redis's order: options,
/// then an existing key (`BUSYKEY`), then the payload.
pub fn restore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let key = a.get(1).copied().unwrap_or_default();
    let ttl = int_arg(a.get(2).copied().unwrap_or_default())?;
    let payload = a.get(3).copied().unwrap_or_default();
    let (mut replace, mut absttl, mut idle, mut freq) = (false, false, None, None);
    let mut i = 4;
    while let Some(opt) = a.get(i) {
        let value = a.get(i + 1).copied();
        match value {
            _ if is(opt, "replace") => replace = true,
            _ if is(opt, "absttl") => absttl = true,
            Some(v) if is(opt, "idletime") && freq.is_none() => {
                let n = int_arg(v)?;
                if n < 0 {
                    return Err(CmdError::Static("ERR Invalid IDLETIME value, must be >= 0"));
                }
                idle = Some(n);
                i += 1;
            }
            Some(v) if is(opt, "freq") && idle.is_none() => {
                let n = int_arg(v)?;
                if !(0..=255).contains(&n) {
                    return Err(CmdError::Static("ERR Invalid FREQ value, must be >= 0 and <= 255"));
                }
                freq = Some(n);
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    if ttl < 0 {
        return Err(CmdError::Static("ERR Invalid TTL value, must be >= 0"));
    }
    let now = ctx.now;
    if !replace && ctx.srv.db.peek(key, now).is_some() {
        return Err(CmdError::Static("BUSYKEY Target key name already exists."));
    }
    let value = serialize::decode(payload, &ctx.srv.config).map_err(|e| match e {
        BadPayload::VersionOrChecksum => CmdError::Static("ERR DUMP payload version or checksum are wrong"),
        BadPayload::Format => CmdError::Static("ERR Bad data format"),
    })?;
    let expire_at = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t,
        (t, false) => now.saturating_add(t),
    };
    // An absolute time already past: the key would expire at once, so it is not created (as Redis does).
    if expire_at != 0 && expire_at <= now {
        ctx.srv.db.delete(key, now);
    } else {
        ctx.srv.db.insert(value.into_entry(key, expire_at));
    }
    ctx.me.out.ok();
    Ok(())
}
