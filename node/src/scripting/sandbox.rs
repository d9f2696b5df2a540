//! The Lua 5.1 state scripts run in, set up once per node (and again after `SCRIPT FLUSH`).
//!
//! What a script sees, as in Redis 7: the base functions without those that reach the file system or
//! change environments (`dofile`, `loadfile`, `print`, `setfenv`, `getfenv`, `newproxy`), the `string`,
//! `table`, `math` and `coroutine` libraries, `bit`, `cjson`, and the `redis` table. No `os`, `io`,
//! `debug`, `package` or `require`.
//!
//! Globals are read-only: the global table a script sees is an empty proxy whose metatable refuses
//! writes (`Attempt to modify a readonly table`) and reads of names that do not exist (`Script attempted
//! to access nonexistent global variable 'x'`); library tables are proxies too. Lua 5.1 has no read-only
//! tables, so `rawset` is wrapped to refuse the proxies, and their metatables are locked (`__metatable`).
//! A script can therefore leave nothing behind for the next one.

use super::api::RunFlags;
use super::libs;
use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value};
use std::rc::Rc;

/// Source name of the setup code, so the error handler can skip its frames.
pub const INTERNAL_CHUNK: &str = "=slotkv";
/// Source name of every script, as in Redis (`user_script:1: ...`).
pub const USER_CHUNK: &str = "@user_script";

/// Base functions a script must not have.
const REMOVED: &[&str] =
    &["dofile", "loadfile", "print", "setfenv", "getfenv", "newproxy", "module", "require"];

/// The protection, written in Lua because `error(msg, 2)` then names the script's line as Redis does.
const PROTECT: &str = r#"
local hidden, libs, error_text = ...
local raw_rawset, raw_setmetatable, raw_error, raw_pcall = rawset, setmetatable, error, pcall
local locked = raw_setmetatable({}, { __mode = "k" })
local function refuse() raw_error("Attempt to modify a readonly table", 2) end
local function lock(real)
  local proxy = {}
  raw_setmetatable(proxy, { __index = real, __newindex = refuse, __metatable = false })
  locked[proxy] = true
  return proxy
end
-- redis.pcall: redis.call, with a failure returned as {err=...} instead of raised.
local redis = hidden.redis -- the real table: it is locked below
local function as_reply(ok, ...)
  if ok then return ... end
  local e = ...
  if type(e) == "userdata" then e = error_text(e) end
  if type(e) == "table" then return e end
  return { err = e }
end
redis.pcall = function(...) return as_reply(raw_pcall(redis.call, ...)) end
for _, name in ipairs(libs) do hidden[name] = lock(hidden[name]) end
hidden.rawset = function(t, k, v)
  if locked[t] then raw_error("Attempt to modify a readonly table", 0) end
  return raw_rawset(t, k, v)
end
-- As in Redis, pcall gives the text of an error table ({err=...}) and of an error raised from Rust.
local function caught(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == "table" and type(e.err) == "string" then
    e = e.err
  elseif type(e) == "userdata" then
    e = error_text(e)
  end
  return false, e
end
hidden.pcall = function(f, ...) return caught(raw_pcall(f, ...)) end
hidden.setmetatable = function(t, mt)
  if locked[t] then raw_error("Attempt to modify a readonly table", 0) end
  return raw_setmetatable(t, mt)
end
raw_setmetatable(hidden, { __index = function(_, name)
  raw_error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end, __metatable = false })
local globals = lock(hidden)
hidden._G = globals
local string_mt = getmetatable("")
string_mt.__metatable = false
return globals
"#;

/// The Lua state and the handles the node keeps into it.
pub struct Vm {
    pub lua: Lua,
    /// The real global table, behind the read-only proxy; `KEYS` and `ARGV` are set here.
    pub hidden: Table,
    /// The real `redis` table, where each run puts its `call` and `pcall`.
    pub redis: Table,
    /// `xpcall`, to run a script with [`super::errors::handler`].
    pub xpcall: Function,
    pub handler: Function,
    /// The read-only globals every script gets as its environment.
    pub globals: Table,
    /// `KEYS` and `ARGV`, refilled for each run (fewer tables for the collector).
    pub keys: Table,
    pub argv: Table,
    /// What the running script set with `redis.setresp` / `redis.set_repl`.
    pub flags: Rc<RunFlags>,
}

/// Builds a fresh state.
pub fn new_vm() -> mlua::Result<Vm> {
    let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::new())?;
    let hidden = lua.globals();
    for name in REMOVED {
        hidden.raw_set(*name, Value::Nil)?;
    }
    let flags = Rc::new(RunFlags::default());
    flags.reset();
    let redis = super::api::redis_table(&lua, &flags)?;
    hidden.raw_set("redis", redis.clone())?;
    hidden.raw_set("bit", libs::bit_table(&lua)?)?;
    hidden.raw_set("cjson", libs::cjson_table(&lua)?)?;
    let xpcall: Function = hidden.raw_get("xpcall")?;
    let handler = lua.create_function(super::errors::handler)?;
    let libs = ["redis", "string", "table", "math", "coroutine", "bit", "cjson"];
    let protect = lua.load(PROTECT).set_name(INTERNAL_CHUNK).into_function()?;
    let error_text = lua.create_function(|lua, v: Value| {
        Ok(match v {
            Value::Error(e) => Value::String(lua.create_string(super::errors::rust_error_text(&e))?),
            other => other,
        })
    })?;
    let globals: Table = protect.call((hidden.clone(), libs, error_text))?;
    lua.set_globals(globals.clone())?;
    lua.set_named_registry_value(super::REDIS_KEY, redis.clone())?;
    let keys = lua.create_table()?;
    let argv = lua.create_table()?;
    hidden.raw_set("KEYS", keys.clone())?;
    hidden.raw_set("ARGV", argv.clone())?;
    // Collect less often than Lua's default (pause 200%): each run leaves a little garbage behind.
    lua.gc_inc(400, 200, 0);
    Ok(Vm { lua, hidden, redis, xpcall, handler, globals, keys, argv, flags })
}

/// Compiles a script body into a function whose environment is the read-only globals.
pub fn compile(vm: &Vm, body: &[u8]) -> Result<Function, String> {
    vm.lua.load(body).set_name(USER_CHUNK).set_environment(vm.globals.clone()).into_function().map_err(|e| {
        match e {
            mlua::Error::SyntaxError { message, .. } => message,
            other => other.to_string(),
        }
    })
}

/// Makes `items` the whole content of `t` (`KEYS` or `ARGV`, reused between runs: fewer tables for the
/// collector). Anything else a script left in it (`KEYS.x = 1`, `ARGV[9] = 'y'`) is cleared first, so
/// the next script sees only its own arguments, as with Redis's new tables.
pub fn fill(lua: &Lua, t: &Table, items: &[&[u8]]) -> mlua::Result<()> {
    let n = items.len() as i64;
    let mut clean = true;
    // Numbers are read without handles: a clean table costs one `lua_next` per item.
    t.for_each::<Value, bool>(|k, _| {
        clean &= matches!(k, Value::Integer(i) if (1..=n).contains(&i));
        Ok(())
    })?;
    if !clean {
        t.clear()?;
    }
    for (i, item) in items.iter().enumerate() {
        // Text goes straight onto Lua's stack; other bytes through a string handle (slower).
        match std::str::from_utf8(item) {
            Ok(text) => t.raw_seti(i + 1, text)?,
            Err(_) => t.raw_seti(i + 1, lua.create_string(item)?)?,
        }
    }
    Ok(())
}
