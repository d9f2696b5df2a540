//! Connection commands: `PING`, `ECHO`, `HELLO`, `AUTH`, `SELECT`, `QUIT`, `RESET`, and `CLIENT ...`.

use crate::client::ClientState;
use crate::error::{self, CmdError, CmdResult};
use crate::server::Ctx;
use crate::types::{int_arg, is};

fn arg<'a>(a: &[&'a [u8]], i: usize) -> &'a [u8] {
    a.get(i).copied().unwrap_or_default()
}

/// The version clients gate features on, and ours beside it (as Valkey reports both).
pub const REDIS_VERSION: &str = "7.2.4";
pub const SLOTKV_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn ping(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    // A RESP2 subscriber gets its pong in the shape of a message.
    if !ctx.me.out.resp3 && ctx.me.subs.any() && a.len() <= 2 {
        ctx.me.out.array(2);
        ctx.me.out.bulk(b"pong");
        ctx.me.out.bulk(a.get(1).copied().unwrap_or_default());
        return Ok(());
    }
    match a.len() {
        1 => ctx.me.out.simple("PONG"),
        2 => ctx.me.out.bulk(arg(a, 1)),
        _ => return Err(error::wrong_arity("ping")),
    }
    Ok(())
}

pub fn echo(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    ctx.me.out.bulk(arg(a, 1));
    Ok(())
}

/// Checks a password for `user` against `requirepass` (the only user is `default`).
fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    user == b"default" && ctx.srv.config.requirepass.as_deref().is_none_or(|p| p == pass)
}

pub fn hello(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let mut proto = None;
    if let Some(v) = a.get(1) {
        let v = int_arg(v)
            .map_err(|_| CmdError::Static("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Static("NOPROTO unsupported protocol version"));
        }
        proto = Some(v);
    }
    let mut auth = None;
    let mut name = None;
    let mut i = 2;
    while let Some(opt) = a.get(i) {
        if is(opt, "auth") && a.len() > i + 2 {
            auth = Some((arg(a, i + 1), arg(a, i + 2)));
            i += 3;
        } else if is(opt, "setname") && a.len() > i + 1 {
            name = Some(arg(a, i + 1));
            i += 2;
        } else {
            return Err(CmdError::Msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                error::truncated(opt, 128)
            )));
        }
    }
    if let Some((user, pass)) = auth {
        if !check_password(ctx, user, pass) {
            return Err(CmdError::Static(error::WRONGPASS));
        }
        ctx.me.authenticated = true;
    }
    if !ctx.me.authenticated {
        return Err(CmdError::Static(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        validate_name(n)?;
        ctx.me.name = (!n.is_empty()).then(|| n.to_vec());
    }
    if let Some(p) = proto {
        ctx.me.out.resp3 = p == 3;
    }
    let id = ctx.me.id as i64;
    let out = &mut ctx.me.out;
    out.map(8);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(id);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    out.bulk(b"slotkv_version");
    out.bulk(SLOTKV_VERSION.as_bytes());
    Ok(())
}

pub fn auth(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (user, pass) = match a.len() {
        2 => {
            if ctx.srv.config.requirepass.is_none() {
                return Err(CmdError::Static(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            (&b"default"[..], arg(a, 1))
        }
        3 => (arg(a, 1), arg(a, 2)),
        _ => return Err(CmdError::Syntax),
    };
    if !check_password(ctx, user, pass) {
        return Err(CmdError::Static(error::WRONGPASS));
    }
    ctx.me.authenticated = true;
    ctx.me.out.ok();
    Ok(())
}

pub fn select(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if int_arg(arg(a, 1))? != 0 {
        return Err(CmdError::Static(error::DB_INDEX));
    }
    ctx.me.out.ok();
    Ok(())
}

pub fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.me.out.ok();
    ctx.me.close_after_reply = true;
    Ok(())
}

pub fn reset(ctx: &mut Ctx) -> CmdResult {
    ctx.me.multi = None;
    crate::commands::multi::forget_watches(ctx.srv, ctx.me);
    crate::commands::pubsub::forget_subscriptions(ctx.srv, ctx.me);
    ctx.me.out.resp3 = false;
    ctx.me.name = None;
    ctx.me.no_evict = false;
    ctx.me.no_touch = false;
    ctx.me.authenticated = ctx.srv.config.requirepass.is_none();
    ctx.me.out.simple("RESET");
    Ok(())
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: answers a blocked client as if its timeout passed, or with an error.
pub fn client_unblock(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let id = int_arg(arg(a, 2))?;
    let with_error = match a.get(3) {
        None => false,
        Some(r) if a.len() == 4 && is(r, "timeout") => false,
        Some(r) if a.len() == 4 && is(r, "error") => true,
        Some(_) => return Err(CmdError::Static("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let token = ctx.srv.other_clients().find(|c| c.id as i64 == id).map(|c| c.token);
    let released = token.is_some_and(|token| {
        crate::blocking::release(ctx.srv, token, |out| {
            if with_error {
                out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
            } else {
                out.null_array();
            }
        })
    });
    ctx.me.out.int(released as i64);
    Ok(())
}

/// Client names and library attributes: printable ASCII without spaces.
fn valid_word(v: &[u8]) -> bool {
    v.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

fn validate_name(n: &[u8]) -> CmdResult {
    if valid_word(n) {
        Ok(())
    } else {
        Err(CmdError::Static("ERR Client names cannot contain spaces, newlines or special characters."))
    }
}

pub fn client_setname(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let n = arg(a, 2);
    validate_name(n)?;
    ctx.me.name = (!n.is_empty()).then(|| n.to_vec());
    ctx.me.out.ok();
    Ok(())
}

pub fn client_getname(ctx: &mut Ctx) -> CmdResult {
    match ctx.me.name.clone() {
        Some(n) => ctx.me.out.bulk(&n),
        None => ctx.me.out.null(),
    }
    Ok(())
}

pub fn client_id(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.me.id as i64;
    ctx.me.out.int(id);
    Ok(())
}

pub fn client_info(ctx: &mut Ctx) -> CmdResult {
    let line = ctx.me.info_line(ctx.now) + "\n";
    ctx.me.out.verbatim(line.as_bytes());
    Ok(())
}

pub fn client_list(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut only_normal = true;
    let mut i = 2;
    while let Some(opt) = a.get(i) {
        if is(opt, "type") && a.len() > i + 1 {
            let t = arg(a, i + 1);
            if !["normal", "master", "replica", "slave", "pubsub"].iter().any(|w| is(t, w)) {
                return Err(CmdError::Msg(format!("ERR Unknown client type '{}'", error::truncated(t, 128))));
            }
            only_normal = is(t, "normal");
            i += 2;
        } else if is(opt, "id") && a.len() > i + 1 {
            let mut list = Vec::new();
            for v in a.get(i + 1..).unwrap_or_default() {
                match int_arg(v) {
                    Ok(n) => list.push(n as u64),
                    _ => return Err(CmdError::Static("ERR Invalid client ID")),
                }
            }
            ids = Some(list);
            i = a.len();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = ctx.now;
    let text: String = ctx
        .all_clients()
        .into_iter()
        .filter(|c| only_normal && ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
        .map(|c| c.info_line(now) + "\n")
        .collect();
    ctx.me.out.verbatim(text.as_bytes());
    Ok(())
}

/// `CLIENT KILL addr` (old form: `OK` or an error) or `CLIENT KILL <filter> <value> ...` (a count).
pub fn client_kill(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let old_form = a.len() == 3;
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skipme = true;
    let mut maxage = None;
    // A filter that no client can match (`TYPE pubsub` while there are no subscribers).
    let mut none = false;
    let mut kind = None;
    if old_form {
        addr = Some(arg(a, 2).to_vec());
        skipme = false;
    } else {
        let mut i = 2;
        while let (Some(f), Some(v)) = (a.get(i), a.get(i + 1)) {
            if is(f, "id") {
                id = Some(
                    int_arg(v)
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or(CmdError::Static("ERR client-id should be greater than 0"))?,
                );
            } else if is(f, "addr") {
                addr = Some(v.to_vec());
            } else if is(f, "laddr") {
                laddr = Some(v.to_vec());
            } else if is(f, "skipme") {
                skipme = if is(v, "yes") {
                    true
                } else if is(v, "no") {
                    false
                } else {
                    return Err(CmdError::Syntax);
                };
            } else if is(f, "maxage") {
                maxage = Some(int_arg(v)?);
            } else if is(f, "type") {
                kind = Some(if is(v, "normal") {
                    ClientType::Normal
                } else if is(v, "pubsub") {
                    ClientType::PubSub
                } else if is(v, "replica") || is(v, "slave") {
                    ClientType::Replica
                } else if is(v, "master") {
                    ClientType::Master
                } else {
                    return Err(CmdError::Msg(format!(
                        "ERR Unknown client type '{}'",
                        error::truncated(v, 128)
                    )));
                });
            } else if is(f, "user") {
                // Every client is the default user's.
                if !is(v, "default") {
                    return Err(CmdError::Msg(format!("ERR No such user '{}'", error::truncated(v, 128))));
                }
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        if !a.len().is_multiple_of(2) {
            return Err(CmdError::Syntax);
        }
    }
    if kind == Some(ClientType::Master) {
        // The link to this replica's primary is not among the clients: it is dropped (and made again).
        none = true;
        if ctx.srv.repl.is_replica() && id.is_none() && addr.is_none() && laddr.is_none() {
            let dropped = crate::repl::link::drop_connection(ctx.srv);
            if old_form {
                ctx.me.out.ok();
            } else {
                ctx.me.out.int(i64::from(dropped));
            }
            return Ok(());
        }
    }
    let now = ctx.now;
    let my_id = ctx.me.id;
    let targets: Vec<(u64, usize)> = ctx
        .all_clients()
        .into_iter()
        .filter(|c| id.is_none_or(|id| c.id == id as u64))
        .filter(|c| addr.as_ref().is_none_or(|a| c.addr.to_string().as_bytes() == a.as_slice()))
        .filter(|c| laddr.as_ref().is_none_or(|a| c.laddr.to_string().as_bytes() == a.as_slice()))
        .filter(|c| maxage.is_none_or(|m| (now - c.created_ms) / 1000 >= m))
        .filter(|c| kind.is_none_or(|k| ClientType::of(c) == k))
        .filter(|c| !(none || (skipme && c.id == my_id)))
        .map(|c| (c.id, c.token))
        .collect();
    for (cid, token) in &targets {
        if *cid == my_id {
            ctx.me.close_after_reply = true;
        } else {
            ctx.srv.kills.push(*token);
        }
    }
    if old_form {
        if targets.is_empty() {
            return Err(CmdError::Static("ERR No such client"));
        }
        ctx.me.out.ok();
    } else {
        ctx.me.out.int(targets.len() as i64);
    }
    Ok(())
}

pub fn client_setinfo(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (attr, value) = (arg(a, 2), arg(a, 3));
    let which = if is(attr, "lib-name") {
        "lib-name"
    } else if is(attr, "lib-ver") {
        "lib-ver"
    } else {
        return Err(CmdError::Msg(format!("ERR Unrecognized option '{}'", error::truncated(attr, 128))));
    };
    if !valid_word(value) {
        // Redis names the attribute as the client spelled it.
        return Err(CmdError::Msg(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            error::truncated(attr, 128)
        )));
    }
    let v = (!value.is_empty()).then(|| value.to_vec());
    if which == "lib-name" {
        ctx.me.lib_name = v;
    } else {
        ctx.me.lib_ver = v;
    }
    ctx.me.out.ok();
    Ok(())
}

/// `CLIENT NO-EVICT on|off` and `CLIENT NO-TOUCH on|off`.
pub fn client_flag(ctx: &mut Ctx, a: &[&[u8]], evict: bool) -> CmdResult {
    let v = arg(a, 2);
    let on = if is(v, "on") {
        true
    } else if is(v, "off") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    if evict {
        ctx.me.no_evict = on;
    } else {
        ctx.me.no_touch = on;
    }
    ctx.me.out.ok();
    Ok(())
}

/// The classes of `CLIENT KILL TYPE` and `CLIENT LIST TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    PubSub,
    Replica,
    Master,
}

impl ClientType {
    fn of(c: &ClientState) -> ClientType {
        if c.is_replica {
            ClientType::Replica
        } else if c.subs.any() {
            ClientType::PubSub
        } else {
            ClientType::Normal
        }
    }
}
