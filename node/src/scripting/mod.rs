//! Lua scripting (`EVAL`, `EVALSHA`, `EVAL_RO`, `EVALSHA_RO`, `SCRIPT ...`), as Redis 7 has it.
//!
//! One Lua 5.1 state per node, made on first use ([`sandbox`]); scripts are compiled once and cached by
//! the SHA1 of their body. A script runs on the data thread to its end, so it is atomic: nothing else
//! runs meanwhile, except that after `busy-reply-threshold` ms the instruction hook lets the event loop
//! answer other clients `-BUSY` and act on `SCRIPT KILL` / `SHUTDOWN NOSAVE` ([`crate::net::serve_busy`]).
//!
//! Commands a script calls go through [`crate::dispatch::call`] for a client of the script's own
//! ([`call`]), so they count in the statistics, wake blocked clients and `WATCH`ers, and feed the AOF.
//! Their effects are what is logged (never the `EVAL`), wrapped in `MULTI`/`EXEC` so a replay applies
//! the whole script or nothing.
//!
//! Layout: [`sandbox`] (the state and its protections), [`api`] (the `redis` table), [`call`]
//! (`redis.call` and the checks before it), [`convert`] (RESP <-> Lua), [`errors`] (error texts),
//! [`libs`] (`bit`, `cjson`).

pub mod api;
pub mod call;
pub mod convert;
pub mod errors;
pub mod libs;
pub mod sandbox;

use crate::client::ClientState;
use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;
use hashbrown::HashMap;
use mlua::{Function, HookTriggers, Value, VmState};
use sandbox::Vm;
use std::time::Instant;

pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
pub const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// Instructions between two looks at the clock (Redis uses the same count).
const HOOK_EVERY: u32 = 100_000;
/// The registry name of the real `redis` table, where the hook finds the running script's `call`.
pub const REDIS_KEY: &str = "slotkv.redis";

/// The node's scripting state.
#[derive(Default)]
pub struct Scripting {
    /// The Lua state; `None` until the first script (and taken out while one runs).
    vm: Option<Vm>,
    /// Compiled scripts by the lower-case hex SHA1 of their body.
    scripts: HashMap<String, Function>,
    /// The script running now.
    pub run: Option<Run>,
    /// What the event loop lends scripts to serve clients while busy (see [`crate::net::BusyIo`]).
    pub io: Option<crate::net::BusyIo>,
    /// The client scripts' commands run as (kept between runs).
    client: Option<Box<ClientState>>,
    /// `redis.call`'s buffers, kept between runs.
    scratch: call::Scratch,
}

/// The running script.
pub struct Run {
    pub started: Instant,
    /// The script's SHA1 (lower-case hex), for the log.
    pub name: [u8; 40],
    /// A write command was called: `SCRIPT KILL` is refused from then on, and no more OOM checks.
    pub wrote: bool,
    /// `EVAL_RO`/`EVALSHA_RO`: write commands are refused.
    pub read_only: bool,
    /// Memory was over `maxmemory` when the script started (Redis checks once, before the first write).
    pub oom: bool,
    /// In cluster mode, the slot of the keys touched so far (the declared ones first).
    pub slot: Option<u16>,
    /// Keys of several (local) slots may be touched: scripts without a `#!` line (Redis's
    /// compatibility mode) and those with `flags=allow-cross-slot-keys`.
    pub cross_slot: bool,
    /// `SCRIPT KILL` or `SHUTDOWN NOSAVE` asked the script to stop.
    pub kill: bool,
    /// Past `busy-reply-threshold`: other clients get `-BUSY`.
    pub busy: bool,
    /// Where the change feed was when the script started, to drop its effects on `SHUTDOWN NOSAVE`.
    feed_mark: usize,
}

impl Scripting {
    /// Whether a script has run past `busy-reply-threshold` (other clients get `-BUSY`).
    pub fn busy(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.busy)
    }

    fn vm(&mut self) -> Result<&mut Vm, CmdError> {
        if self.vm.is_none() {
            let vm = sandbox::new_vm()
                .map_err(|e| CmdError::Msg(format!("ERR Lua initialization failed: {e}")))?;
            install_hook(&vm)?;
            self.vm = Some(vm);
        }
        self.vm.as_mut().ok_or(CmdError::Static("ERR Lua is not available"))
    }

    /// The cached script `sha`, or the body compiled and cached.
    fn load(&mut self, body: &[u8]) -> Result<(String, Function), CmdError> {
        let sha = api::sha1_hex(body);
        if let Some(f) = self.scripts.get(&sha) {
            return Ok((sha, f.clone()));
        }
        let vm = self.vm()?;
        let f = sandbox::compile(vm, &strip_shebang(body))
            .map_err(|e| CmdError::Msg(format!("ERR Error compiling script (new function): {e}")))?;
        self.scripts.insert(sha.clone(), f.clone());
        Ok((sha, f))
    }
}

/// A `#!lua flags=...` first line stays (as a comment) so line numbers do not move.
fn strip_shebang(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if body.starts_with(b"#!") {
        let mut b = body.to_vec();
        b[0] = b'-';
        b[1] = b'-';
        return b.into();
    }
    body.into()
}

/// The clock check every [`HOOK_EVERY`] instructions: it calls the running script's event-loop
/// callback, which serves clients once the script is past the threshold and says whether to stop.
fn install_hook(vm: &Vm) -> Result<(), CmdError> {
    let triggers = HookTriggers::new().every_nth_instruction(HOOK_EVERY);
    vm.lua
        .set_global_hook(triggers, hook)
        .map_err(|e| CmdError::Msg(format!("ERR Lua initialization failed: {e}")))
}

fn hook(lua: &mlua::Lua, _: &mlua::Debug) -> mlua::Result<VmState> {
    // The running script's `redis.call`, asked to serve the event loop instead of running a command.
    let Ok(redis) = lua.named_registry_value::<mlua::Table>(REDIS_KEY) else { return Ok(VmState::Continue) };
    let Ok(call) = redis.raw_get::<Function>("call") else { return Ok(VmState::Continue) };
    let kill: bool = call.call(call::serve_marker())?;
    if kill {
        // From now on the hook raises on every line, so a `pcall` in the script cannot catch the kill
        // and carry on.
        let every_line = HookTriggers::new().every_line().every_nth_instruction(HOOK_EVERY);
        lua.set_global_hook(every_line, hook)?;
        return errors::raise(KILLED);
    }
    Ok(VmState::Continue)
}

/// `EVAL script numkeys [key...] [arg...]` and `EVAL_RO`.
pub fn eval(ctx: &mut Ctx, a: &[&[u8]], read_only: bool) -> CmdResult {
    let (keys, args) = split_keys(a)?;
    let body = a.get(1).copied().unwrap_or_default();
    let (sha, f) = ctx.srv.scripting.load(body)?;
    let f = &f;
    let cross_slot = !body.starts_with(b"#!") || shebang_flag(body, b"allow-cross-slot-keys");
    run(ctx, &sha, f, keys, args, read_only || shebang_flag(body, b"no-writes"), cross_slot)
}

/// `EVALSHA sha1 numkeys [key...] [arg...]` and `EVALSHA_RO`.
pub fn evalsha(ctx: &mut Ctx, a: &[&[u8]], read_only: bool) -> CmdResult {
    let (keys, args) = split_keys(a)?;
    let mut lower = [0u8; 40];
    let given = a.get(1).copied().unwrap_or_default();
    let sha = match lower.get_mut(..given.len()) {
        Some(dst) if given.len() == 40 => {
            dst.copy_from_slice(given);
            dst.make_ascii_lowercase();
            std::str::from_utf8(dst).unwrap_or_default()
        }
        _ => return Err(CmdError::Static(NOSCRIPT)),
    };
    // The cache is taken out while the script runs (nothing can change it meanwhile: SCRIPT is refused
    // to a busy script's other clients), so the function need not be cloned.
    let scripts = std::mem::take(&mut ctx.srv.scripting.scripts);
    let result = match scripts.get(sha) {
        // The body is not at hand: the flags of a `#!` script loaded with SCRIPT LOAD are not kept.
        Some(f) => run(ctx, sha, f, keys, args, read_only, true),
        None => Err(CmdError::Static(NOSCRIPT)),
    };
    ctx.srv.scripting.scripts = scripts;
    result
}

/// Whether a `#!lua flags=...` line declares `flag`.
fn shebang_flag(body: &[u8], flag: &[u8]) -> bool {
    let line = body.split(|&b| b == b'\n').next().unwrap_or_default();
    line.starts_with(b"#!")
        && line
            .split(|&b| b == b' ')
            .filter_map(|w| w.strip_prefix(b"flags="))
            .any(|f| f.split(|&b| b == b',').any(|x| x == flag))
}

type KeysArgs<'a, 'b> = (&'a [&'b [u8]], &'a [&'b [u8]]);

fn split_keys<'a, 'b>(a: &'a [&'b [u8]]) -> Result<KeysArgs<'a, 'b>, CmdError> {
    let n = a.get(2).and_then(|n| slotkv_proto::request::parse_i64(n)).ok_or(CmdError::NotInteger)?;
    let rest = a.get(3..).unwrap_or_default();
    if n > rest.len() as i64 {
        return Err(CmdError::Static("ERR Number of keys can't be greater than number of args"));
    }
    if n < 0 {
        return Err(CmdError::Static("ERR Number of keys can't be negative"));
    }
    Ok(rest.split_at(n as usize))
}

/// Runs a compiled script with its `KEYS` and `ARGV` and writes its result.
fn run(
    ctx: &mut Ctx,
    name: &str,
    f: &Function,
    keys: &[&[u8]],
    args: &[&[u8]],
    read_only: bool,
    cross_slot: bool,
) -> CmdResult {
    ctx.srv.scripting.vm()?;
    let Some(vm) = ctx.srv.scripting.vm.take() else {
        return Err(CmdError::Static("ERR Lua is not available"));
    };
    let result = run_in(ctx, &vm, name, f, keys, args, (read_only, cross_slot));
    ctx.srv.scripting.vm = Some(vm);
    result
}

fn run_in(
    ctx: &mut Ctx,
    vm: &Vm,
    name: &str,
    f: &Function,
    keys: &[&[u8]],
    args: &[&[u8]],
    (read_only, cross_slot): (bool, bool),
) -> CmdResult {
    let lua = &vm.lua;
    let internal = |e: mlua::Error| CmdError::Msg(format!("ERR Error running script {name}: {e}"));
    sandbox::fill(lua, &vm.keys, keys).map_err(internal)?;
    sandbox::fill(lua, &vm.argv, args).map_err(internal)?;
    vm.flags.reset();
    let oom = ctx.srv.config.maxmemory > 0 && {
        ctx.srv.refresh_memory_at(ctx.now);
        ctx.srv.used_memory > ctx.srv.config.maxmemory
    };
    let slot = match (&ctx.srv.cluster, keys.first()) {
        (Some(_), Some(k)) => Some(slotkv_proto::key_slot(k)),
        _ => None,
    };
    ctx.srv.scripting.run = Some(Run {
        started: Instant::now(),
        name: name.as_bytes().try_into().unwrap_or([b'0'; 40]),
        wrote: false,
        read_only,
        oom,
        slot,
        cross_slot,
        kill: false,
        busy: false,
        feed_mark: ctx.srv.feed.buf.len(),
    });
    let mut client = ctx.srv.scripting.client.take().unwrap_or_else(|| Box::new(script_client(ctx)));
    client.asking = ctx.me.asking;
    client.readonly = ctx.me.readonly;
    // Inside EXEC the transaction's MULTI/EXEC already wraps the script's effects.
    let wrap = !ctx.me.in_exec;
    if wrap {
        ctx.srv.feed.begin_exec();
    }
    let mut scratch = std::mem::take(&mut ctx.srv.scripting.scratch);
    let env = std::cell::RefCell::new(call::Env::new(&mut *ctx, &mut client, vm.flags.clone(), &mut scratch));
    // One callback per run borrows the server: `redis.call` (`redis.pcall` is Lua around it, see
    // `sandbox`), which also serves the event loop when the hook asks.
    let outcome = lua.scope(|scope| {
        let call = scope.create_function(|lua, a: mlua::MultiValue| call::call(&env, lua, a))?;
        vm.redis.raw_set("call", call)?;
        vm.xpcall.call::<(bool, Value)>((f, &vm.handler))
    });
    drop(env);
    ctx.srv.scripting.scratch = scratch;
    if wrap {
        ctx.srv.feed.end_exec();
    }
    ctx.srv.scripting.client = Some(client);
    let run = ctx.srv.scripting.run.take();
    if run.as_ref().is_some_and(|r| r.kill) {
        // The hook went to every line to stop the script: back to counting.
        install_hook(vm)?;
    }
    if let Some(r) = run.as_ref().filter(|r| r.busy) {
        tracing::warn!("Slow script finished after {} ms", r.started.elapsed().as_millis());
    }
    let (ok, value) = outcome.map_err(internal)?;
    if !ok {
        return match value {
            Value::Table(t) => Err(CmdError::Msg(errors::reply_text(&t, name))),
            other => Err(CmdError::Msg(format!("ERR Error running script {name}, {other:?}"))),
        };
    }
    let resp3_script = vm.flags.resp.get() == 3;
    match convert::write_result(&value, &mut ctx.me.out, resp3_script) {
        Some(err) => Err(CmdError::Msg(err)),
        None => Ok(()),
    }
}

/// The client scripts' commands run as: always authenticated, never blocking (`in_exec`).
fn script_client(ctx: &Ctx) -> ClientState {
    let mut c = ClientState::new(0, usize::MAX - 1, -1, ctx.me.laddr, ctx.me.laddr, ctx.now, true);
    c.in_exec = true;
    c.name = Some(b"lua".to_vec());
    c
}

/// `SHUTDOWN NOSAVE` while a script runs: its effects so far are dropped from the change feed (the
/// process exits before the script ends, as Redis does) and the script is stopped.
pub fn abandon(srv: &mut crate::server::Server) {
    if let Some(run) = srv.scripting.run.as_mut() {
        run.kill = true;
        let mark = run.feed_mark;
        srv.feed.truncate(mark);
    }
}

/// `SCRIPT LOAD script`.
pub fn script_load(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (sha, _) = ctx.srv.scripting.load(a.get(2).copied().unwrap_or_default())?;
    ctx.me.out.bulk(sha.as_bytes());
    Ok(())
}

/// `SCRIPT EXISTS sha1 [sha1...]`.
pub fn script_exists(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let shas = a.get(2..).unwrap_or_default();
    ctx.me.out.array(shas.len());
    for sha in shas {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        let known = ctx.srv.scripting.scripts.contains_key(&sha);
        ctx.me.out.int(known as i64);
    }
    Ok(())
}

/// `SCRIPT FLUSH [ASYNC|SYNC]`: forgets every script and starts a fresh Lua state.
pub fn script_flush(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    match a.get(2) {
        None => {}
        Some(m) if m.eq_ignore_ascii_case(b"async") || m.eq_ignore_ascii_case(b"sync") => {}
        Some(_) => {
            return Err(CmdError::Static("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
        }
    }
    if a.len() > 3 {
        return Err(CmdError::Static("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
    }
    ctx.srv.scripting.scripts.clear();
    ctx.srv.scripting.vm = None;
    ctx.me.out.ok();
    Ok(())
}

/// `SCRIPT KILL`: stops a busy script that has not written.
pub fn script_kill(ctx: &mut Ctx) -> CmdResult {
    let Some(run) = ctx.srv.scripting.run.as_mut() else { return Err(CmdError::Static(NOTBUSY)) };
    if run.wrote {
        return Err(CmdError::Static(UNKILLABLE));
    }
    run.kill = true;
    ctx.me.out.ok();
    Ok(())
}
