//! `redis.call` / `redis.pcall`: a command from a script, checked as Redis's `scriptCall` checks it
//! (arity, no-script commands, writes from read-only scripts, writes refused by persistence errors,
//! OOM before the first write, cluster slots), then run through [`dispatch::call`] for the script's
//! client, and its reply converted to Lua. Also the busy-loop callback the instruction hook calls.

use super::api::{RunFlags, REPL_AOF};
use super::{convert, errors};
use crate::client::ClientState;
use crate::cluster::route;
use crate::dispatch;
use crate::server::Ctx;
use mlua::{Lua, MultiValue, Value};
use slotkv_proto::command::flags;
use slotkv_proto::{lookup, lookup_sub, CommandSpec, FrameLimits};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::rc::Rc;

/// What the running script's callbacks share: the command's context, the script's client, the flags
/// the script set, and buffers kept between runs.
pub struct Env<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    client: &'c mut ClientState,
    flags: Rc<RunFlags>,
    scratch: &'c mut Scratch,
}

impl<'c, 'a> Env<'c, 'a> {
    pub fn new(
        ctx: &'c mut Ctx<'a>,
        client: &'c mut ClientState,
        flags: Rc<RunFlags>,
        scratch: &'c mut Scratch,
    ) -> Self {
        Env { ctx, client, flags, scratch }
    }
}

/// What `redis.call` reuses from one call (and one run) to the next, so that a call allocates nothing.
#[derive(Default)]
pub struct Scratch {
    /// Arguments of the command being called, end to end, and where each ends.
    buf: Vec<u8>,
    ends: SmallVec<[usize; 8]>,
    /// The last command name resolved (as the script spelled it) and its row: scripts tend to call the
    /// same command again and again.
    last: Option<(Vec<u8>, &'static CommandSpec)>,
}

/// The argument with which the instruction hook asks `redis.call` to serve the event loop ([`serve`]):
/// a light userdata no script can make (its only one, `cjson.null`, is NULL).
pub fn serve_marker() -> Value {
    Value::LightUserData(mlua::LightUserData(std::ptr::dangling_mut()))
}

/// `redis.call`: runs the command, raising its error if it failed.
pub fn call(env: &RefCell<Env>, lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    if a.len() == 1 && a.front() == Some(&serve_marker()) {
        return Ok(Value::Boolean(serve(env)));
    }
    let result = match env.try_borrow_mut() {
        Ok(mut env) => command(&mut env, lua, &a),
        Err(_) => Err("ERR redis.call cannot be called from here".to_string()),
    };
    result.or_else(errors::raise)
}

/// Runs one command for the script; `Err` is the error text (with its code).
fn command(env: &mut Env, lua: &Lua, a: &MultiValue) -> Result<Value, String> {
    if a.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call".into());
    }
    let scratch = &mut *env.scratch;
    scratch.buf.clear();
    scratch.ends.clear();
    for v in a.iter() {
        if !convert::arg_bytes(v, &mut scratch.buf) {
            return Err("ERR Lua redis lib command arguments must be strings or integers".into());
        }
        scratch.ends.push(scratch.buf.len());
    }
    let mut argv: SmallVec<[&[u8]; 8]> = SmallVec::new();
    let mut start = 0;
    for &end in &scratch.ends {
        argv.push(scratch.buf.get(start..end).unwrap_or_default());
        start = end;
    }
    let spec = resolve(&mut scratch.last, &argv)?;
    let ctx = &mut *env.ctx;
    let srv = &mut *ctx.srv;
    let Some(run) = srv.scripting.run.as_mut() else { return Err("ERR no script is running".into()) };
    let rejected = |srv: &mut crate::server::Server, msg: String| {
        srv.stats.command(spec.id as usize).rejected_calls += 1;
        srv.stats.count_error(&msg);
        Err(msg)
    };
    if spec.has(flags::NOSCRIPT) {
        return rejected(srv, "ERR This Redis command is not allowed from script".into());
    }
    let write = spec.has(flags::WRITE);
    if run.read_only && (write || spec.has(flags::MAY_REPLICATE)) {
        return rejected(srv, "ERR Write commands are not allowed from read-only scripts.".into());
    }
    // Once the script has written it must be allowed to finish: these checks only stop a first write.
    if !run.wrote {
        if write {
            let denied =
                crate::persist::deny_writes(srv).or_else(|| crate::repl::deny_write(srv, env.client));
            if let Some(e) = denied {
                return rejected(srv, e.text().to_string());
            }
        }
        let run = srv.scripting.run.as_ref();
        if run.is_some_and(|r| r.oom) && srv.config.maxmemory > 0 && spec.has(flags::DENYOOM) {
            return rejected(srv, crate::error::OOM.to_string());
        }
    }
    if write {
        if let Some(run) = srv.scripting.run.as_mut() {
            run.wrote = true;
        }
    }
    if let Err(msg) = check_cluster(ctx, env.client, spec, &argv) {
        return rejected(ctx.srv, msg);
    }
    let srv = &mut *ctx.srv;
    env.client.out.buf.clear();
    env.client.out.resp3 = env.flags.resp.get() == 3;
    // `redis.set_repl` without REPL_AOF: this command's effects stay out of the AOF.
    let feed_on = srv.feed.on;
    if env.flags.repl.get() & REPL_AOF == 0 {
        srv.feed.on = false;
    }
    let result = {
        let mut inner = Ctx { srv: &mut *srv, me: &mut *env.client, now: ctx.now };
        dispatch::call(&mut inner, spec, &argv)
    };
    srv.feed.on = feed_on;
    if let Err(e) = result {
        srv.stats.count_error(e.text());
        return Err(e.text().to_string());
    }
    let reply = &env.client.out.buf;
    // An integer reply (the most common one) needs no frame.
    if let Some(n) = integer_reply(reply) {
        return Ok(Value::Integer(n));
    }
    let frame = match slotkv_proto::parse_frame(reply, &FrameLimits::default()) {
        Ok(Some((frame, _))) => frame,
        _ => return Err("ERR the command's reply could not be read".into()),
    };
    convert::to_lua(lua, &frame, env.flags.resp.get() == 3).map_err(|e| format!("ERR {e}"))
}

/// The number of a reply that is exactly one RESP integer (`:<n>\r\n`).
fn integer_reply(reply: &[u8]) -> Option<i64> {
    let digits = reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    slotkv_proto::request::parse_i64(digits)
}

/// The table row for a script's command, with Redis's script-side error texts. `last` caches the
/// last name resolved (without subcommands), compared byte for byte.
fn resolve(
    last: &mut Option<(Vec<u8>, &'static CommandSpec)>,
    argv: &[&[u8]],
) -> Result<&'static CommandSpec, String> {
    let unknown = || "ERR Unknown Redis command called from script".to_string();
    let name = argv.first().copied().unwrap_or_default();
    let mut spec = match last {
        Some((cached, spec)) if cached.as_slice() == name => *spec,
        _ => {
            let spec = lookup(name).ok_or_else(unknown)?;
            let (cached, row) = last.get_or_insert_with(|| (Vec::new(), spec));
            cached.clear();
            cached.extend_from_slice(name);
            *row = spec;
            spec
        }
    };
    if spec.has(flags::CONTAINER) && argv.len() >= 2 {
        spec = lookup_sub(spec, argv.get(1).copied().unwrap_or_default()).ok_or_else(unknown)?;
    }
    if !spec.arity_ok(argv.len()) {
        return Err("ERR Wrong number of args calling Redis command from script".into());
    }
    Ok(spec)
}

/// In cluster mode, a script may only touch keys this node serves, all in one slot (the declared keys'
/// slot when it declared some).
fn check_cluster(
    ctx: &mut Ctx,
    client: &ClientState,
    spec: &CommandSpec,
    argv: &[&[u8]],
) -> Result<(), String> {
    let srv = &mut *ctx.srv;
    let Some(c) = &srv.cluster else { return Ok(()) };
    let rules = route::Rules {
        require_full_coverage: srv.config.cluster_require_full_coverage,
        allow_reads_when_down: srv.config.cluster_allow_reads_when_down,
    };
    if let Err(e) = route::check(c, &srv.db, &rules, client, spec, argv, ctx.now) {
        return Err(match e.text() {
            route::DOWN => "ERR Script attempted to execute a command while the cluster is down".into(),
            route::DOWN_READONLY => {
                "ERR Script attempted to execute a write command while the cluster is down and readonly"
                    .into()
            }
            _ => "ERR Script attempted to access a non local key in a cluster node".into(),
        });
    }
    let first = spec.keys_in(argv).unwrap_or_default().first().and_then(|&i| argv.get(i).copied());
    let (Some(key), Some(run)) = (first, srv.scripting.run.as_mut().filter(|r| !r.cross_slot)) else {
        return Ok(());
    };
    let slot = slotkv_proto::key_slot(key);
    match run.slot {
        None => run.slot = Some(slot),
        Some(s) if s != slot => {
            return Err("ERR Script attempted to access keys that do not hash to the same slot".into())
        }
        Some(_) => {}
    }
    Ok(())
}

/// Called by the instruction hook: once the script is past `busy-reply-threshold`, serve the other
/// clients (`-BUSY`, `SCRIPT KILL`, `SHUTDOWN NOSAVE`). Returns whether the script must stop.
fn serve(env: &RefCell<Env>) -> bool {
    let Ok(mut env) = env.try_borrow_mut() else { return false };
    let srv = &mut *env.ctx.srv;
    let threshold =
        srv.config.get("busy-reply-threshold").and_then(|v| v.parse::<u128>().ok()).unwrap_or(5000);
    let Some(run) = srv.scripting.run.as_mut() else { return false };
    if run.started.elapsed().as_millis() < threshold {
        return false;
    }
    if !run.busy {
        run.busy = true;
        tracing::warn!(
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the SCRIPT KILL command. Script name is: {}.",
            run.started.elapsed().as_millis(),
            String::from_utf8_lossy(&run.name)
        );
    }
    crate::net::serve_busy(srv, crate::net::now_ms());
    srv.shutdown.is_some() || srv.scripting.run.as_ref().is_some_and(|r| r.kill)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_replies_only() {
        assert_eq!(integer_reply(b":42\r\n"), Some(42));
        assert_eq!(integer_reply(b":-7\r\n"), Some(-7));
        assert_eq!(integer_reply(b":1\r\n:2\r\n"), None);
        assert_eq!(integer_reply(b"+OK\r\n"), None);
        assert_eq!(integer_reply(b":12"), None);
    }

    #[test]
    fn resolve_cache_follows_the_name() {
        let mut last = None;
        let names = [&b"INCR"[..], b"incr", b"GET", b"incr", b"config"];
        let want = ["incr", "incr", "get", "incr", "config|get"];
        for (name, want) in names.iter().zip(want) {
            let argv: &[&[u8]] = if *name == b"config" { &[name, b"get", b"x"] } else { &[name, b"k"] };
            let spec = resolve(&mut last, argv).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(spec.name, want);
        }
        assert!(resolve(&mut last, &[b"nosuch"]).is_err());
        let spec = resolve(&mut last, &[b"GET", b"k"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.name, "get");
    }
}
