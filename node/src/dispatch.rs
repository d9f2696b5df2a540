//! From parsed arguments to a reply: look the command up in the table, check arity, authentication and
//! memory, run it, and write its error if it failed. This is the one place errors become RESP.

use crate::cluster::{commands as cc, migrate};
use crate::commands::{connection, introspection, multi, pubsub, server};
use crate::error::{self, CmdError, CmdResult};
use crate::server::Ctx;
use crate::types::{dump, hash, keys, list, set, string, zset};
use crate::{persist, propagate, repl, scripting};
use slotkv_proto::command::flags;
use slotkv_proto::{lookup, lookup_sub, CommandId, CommandSpec};

/// Runs one command and writes its reply into the client's output; inside `MULTI`, queues it instead.
pub fn execute(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(name) = argv.first() else { return };
    ctx.srv.stats.commands_processed += 1;
    ctx.me.last_ms = ctx.now;
    let result = match resolve(name, argv) {
        Ok(spec) => {
            ctx.me.last_cmd = spec.name;
            let index = spec.id as usize;
            let checked = admit(ctx, spec, argv);
            if checked.is_err() {
                ctx.srv.stats.command(index).rejected_calls += 1;
            }
            let routed = if checked.is_ok() { route(ctx, spec, argv) } else { Ok(()) };
            if routed.is_err() && spec.id == CommandId::Exec {
                // A transaction whose keys live elsewhere is discarded with the redirect, as in Redis.
                ctx.me.multi = None;
                multi::unwatch_all(ctx);
            }
            match checked.and(routed) {
                Err(e) => {
                    multi::refuse(ctx);
                    Err(e)
                }
                Ok(()) if ctx.me.multi.is_some() && !multi::runs_at_once(spec.id) => {
                    multi::queue(ctx, spec, argv)
                }
                Ok(()) => call(ctx, spec, argv),
            }
        }
        Err(e) => {
            multi::refuse(ctx);
            Err(e)
        }
    };
    if let Err(e) = result {
        ctx.srv.stats.count_error(e.text());
        ctx.me.out.error(e.text());
    }
    // `ASKING` holds for the one command after it.
    if ctx.me.asking && !name.eq_ignore_ascii_case(b"asking") {
        ctx.me.asking = false;
    }
    // A command that just blocked: keep it to run again when woken.
    if let Some(b) = ctx.me.blocked.as_mut().filter(|b| b.argv.is_empty()) {
        b.argv = argv.iter().map(|a| a.to_vec()).collect();
    }
}

/// Runs an admitted command (also each command of `EXEC`) and tells `WATCH`ing clients of the keys it
/// changed.
pub fn call(ctx: &mut Ctx, spec: &CommandSpec, argv: &[&[u8]]) -> CmdResult {
    let index = spec.id as usize;
    ctx.srv.stats.command(index).calls += 1;
    let dirty = ctx.srv.db.dirty;
    let expired = ctx.srv.db.expired_keys;
    ctx.srv.db.now_ms = ctx.now;
    let result = run(ctx, spec.id, argv);
    if result.is_err() {
        ctx.srv.stats.command(index).failed_calls += 1;
        // A failed command changed nothing but keys it found expired, though looking a key up for
        // writing counted as a change before the type check failed (`rdb_changes_since_last_save`).
        ctx.srv.db.dirty = dirty + (ctx.srv.db.expired_keys - expired);
    }
    if result.is_ok() && ctx.srv.db.dirty != dirty && !ctx.srv.watchers.is_empty() {
        multi::touch_keys(ctx, spec, argv);
    }
    if ctx.srv.feed.on {
        let srv = &mut *ctx.srv;
        propagate::after_command(&mut srv.feed, &mut srv.db, spec, argv, dirty, result.is_ok(), ctx.now);
    }
    result
}

/// In cluster mode: whether this node serves the command's keys (see [`crate::cluster::route`]). The
/// AOF loader's client (token `usize::MAX`) is never redirected.
fn route(ctx: &mut Ctx, spec: &CommandSpec, argv: &[&[u8]]) -> CmdResult {
    let Some(c) = &ctx.srv.cluster else { return Ok(()) };
    if ctx.me.is_internal()
        || (ctx.me.multi.is_some() && spec.id != CommandId::Exec && multi::runs_at_once(spec.id))
    {
        return Ok(());
    }
    let rules = crate::cluster::route::Rules {
        require_full_coverage: ctx.srv.config.cluster_require_full_coverage,
        allow_reads_when_down: ctx.srv.config.cluster_allow_reads_when_down,
    };
    crate::cluster::route::check(c, &ctx.srv.db, &rules, ctx.me, spec, argv, ctx.now)
}

/// Finds the table row for `argv`, descending into subcommands; unknown names and wrong arity are errors.
pub fn resolve(name: &[u8], argv: &[&[u8]]) -> Result<&'static CommandSpec, CmdError> {
    let Some(spec) = lookup(name) else { return Err(unknown_command(argv)) };
    if !spec.arity_ok(argv.len()) {
        return Err(error::wrong_arity(spec.name));
    }
    if !spec.has(flags::CONTAINER) || argv.len() < 2 {
        return Ok(spec);
    }
    let sub = argv.get(1).copied().unwrap_or_default();
    let Some(sub_spec) = lookup_sub(spec, sub) else { return Err(error::unknown_subcommand(sub, spec.name)) };
    if !sub_spec.arity_ok(argv.len()) {
        return Err(error::wrong_arity(sub_spec.name));
    }
    Ok(sub_spec)
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `, as Redis 7 writes it.
fn unknown_command(argv: &[&[u8]]) -> CmdError {
    let mut args = String::new();
    for a in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push_str(&format!("'{}' ", error::truncated(a, room)));
    }
    let name = argv.first().map(|n| error::truncated(n, 128)).unwrap_or_default();
    CmdError::Msg(format!("ERR unknown command '{name}', with args beginning with: {args}"))
}

/// The checks before a command runs: authentication, the subscriber context, transactions, then memory
/// for commands that may grow it.
fn admit(ctx: &mut Ctx, spec: &CommandSpec, argv: &[&[u8]]) -> CmdResult {
    if !ctx.me.authenticated && !spec.has(flags::NO_AUTH) {
        return Err(CmdError::Static(error::NOAUTH));
    }
    if !ctx.me.out.resp3 && ctx.me.subs.any() && !pubsub::allowed_when_subscribed(spec.id) {
        return Err(CmdError::Msg(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        )));
    }
    // A script past busy-reply-threshold: only SCRIPT KILL, SHUTDOWN NOSAVE and a few connection
    // commands are served (see `net::serve_busy`).
    if ctx.srv.scripting.busy() {
        busy_admit(ctx, spec, argv)?;
    }
    if ctx.srv.persist.loading.is_some() && !spec.has(flags::LOADING) {
        return Err(CmdError::Static(persist::LOADING));
    }
    if ctx.me.multi.is_some() && spec.has(flags::NO_MULTI) {
        return Err(CmdError::Static("ERR Command not allowed inside a transaction"));
    }
    // Writes (and PING, as Redis does) are refused while persistence is failing.
    if (spec.has(flags::WRITE) || spec.id == CommandId::Ping) && !ctx.me.is_internal() {
        if let Some(e) = persist::deny_writes(ctx.srv) {
            return Err(e);
        }
    }
    // A replica's data changes only through its primary; a primary may want replicas for writes. In
    // cluster mode a keyed write is redirected to the slot's master instead (the routing check).
    let keyed = spec.first_key != 0 || spec.has(flags::MOVABLE_KEYS);
    if spec.has(flags::WRITE) && !ctx.me.is_internal() && !(keyed && ctx.srv.cluster.is_some()) {
        if let Some(e) = repl::deny_write(ctx.srv, ctx.me) {
            return Err(e);
        }
    }
    // Over maxmemory, every command first evicts (as Redis does); commands that may grow the data are
    // refused if nothing more can be evicted. The AOF loader never evicts.
    if ctx.srv.config.maxmemory > 0 && !ctx.me.is_internal() && !ctx.srv.repl.is_replica() {
        let outcome = crate::evict::perform(ctx.srv, ctx.now);
        if outcome == crate::evict::Outcome::Full && spec.has(flags::DENYOOM) {
            return Err(CmdError::Static(error::OOM));
        }
    }
    Ok(())
}

/// While a script is busy: `-BUSY` for all but `ALLOW_BUSY` commands; `SHUTDOWN` only with `NOSAVE`,
/// which drops the script's effects and stops it.
fn busy_admit(ctx: &mut Ctx, spec: &CommandSpec, argv: &[&[u8]]) -> CmdResult {
    if !spec.has(flags::ALLOW_BUSY) {
        return Err(CmdError::Static(scripting::BUSY));
    }
    if spec.id == CommandId::Shutdown {
        if !argv.iter().skip(1).any(|a| a.eq_ignore_ascii_case(b"nosave")) {
            return Err(CmdError::Static(scripting::BUSY));
        }
        scripting::abandon(ctx.srv);
    }
    Ok(())
}

/// The handler of every command in the table; the compiler checks that none is missing.
fn run(ctx: &mut Ctx, id: CommandId, a: &[&[u8]]) -> CmdResult {
    use CommandId as C;
    match id {
        C::Get => string::get(ctx, a),
        C::Set => string::set(ctx, a),
        C::SetNx => string::setnx(ctx, a),
        C::SetEx => string::setex(ctx, a, 1000),
        C::PSetEx => string::setex(ctx, a, 1),
        C::GetSet => string::getset(ctx, a),
        C::GetEx => string::getex(ctx, a),
        C::GetDel => string::getdel(ctx, a),
        C::MGet => string::mget(ctx, a),
        C::MSet => string::mset(ctx, a),
        C::MSetNx => string::msetnx(ctx, a),
        C::Append => string::append(ctx, a),
        C::StrLen => string::strlen(ctx, a),
        C::Incr => string::incr_by(ctx, a, Some(1)),
        C::Decr => string::incr_by(ctx, a, Some(-1)),
        C::IncrBy => string::incr_by(ctx, a, None),
        C::DecrBy => string::decr_by(ctx, a),
        C::IncrByFloat => string::incr_by_float(ctx, a),
        C::GetRange | C::Substr => string::getrange(ctx, a),
        C::SetRange => string::setrange(ctx, a),
        C::Del | C::Unlink => keys::del(ctx, a),
        C::Exists => keys::exists(ctx, a),
        C::Touch => keys::exists(ctx, a),
        C::Type => keys::type_(ctx, a),
        C::Expire => keys::expire(ctx, a, 1000, false),
        C::PExpire => keys::expire(ctx, a, 1, false),
        C::ExpireAt => keys::expire(ctx, a, 1000, true),
        C::PExpireAt => keys::expire(ctx, a, 1, true),
        C::ExpireTime => keys::expiretime(ctx, a, 1000),
        C::PExpireTime => keys::expiretime(ctx, a, 1),
        C::Ttl => keys::ttl(ctx, a, 1000),
        C::PTtl => keys::ttl(ctx, a, 1),
        C::Persist => keys::persist(ctx, a),
        C::Rename => keys::rename(ctx, a, false),
        C::RenameNx => keys::rename(ctx, a, true),
        C::Copy => keys::copy(ctx, a),
        C::Scan => keys::scan(ctx, a),
        C::Keys => keys::keys(ctx, a),
        C::RandomKey => keys::randomkey(ctx),
        C::Object => introspection::container_help(ctx, "object"),
        C::ObjectEncoding => keys::object_encoding(ctx, a),
        C::ObjectRefcount => keys::object_refcount(ctx, a),
        C::ObjectIdletime => keys::object_idletime(ctx, a),
        C::ObjectFreq => keys::object_freq(ctx, a),
        C::ObjectHelp => introspection::help(ctx, "object"),
        C::HSet => hash::hset(ctx, a, false),
        C::HMSet => hash::hset(ctx, a, true),
        C::HSetNx => hash::hsetnx(ctx, a),
        C::HGet => hash::hget(ctx, a),
        C::HMGet => hash::hmget(ctx, a),
        C::HDel => hash::hdel(ctx, a),
        C::HExists => hash::hexists(ctx, a),
        C::HLen => hash::hlen(ctx, a),
        C::HKeys => hash::hkeys(ctx, a),
        C::HVals => hash::hvals(ctx, a),
        C::HGetAll => hash::hgetall(ctx, a),
        C::HIncrBy => hash::hincrby(ctx, a),
        C::HIncrByFloat => hash::hincrbyfloat(ctx, a),
        C::HStrLen => hash::hstrlen(ctx, a),
        C::HRandField => hash::hrandfield(ctx, a),
        C::HScan => hash::hscan(ctx, a),
        C::LPush => list::lpush(ctx, a),
        C::RPush => list::rpush(ctx, a),
        C::LPushX => list::lpushx(ctx, a),
        C::RPushX => list::rpushx(ctx, a),
        C::LPop => list::lpop(ctx, a),
        C::RPop => list::rpop(ctx, a),
        C::LLen => list::llen(ctx, a),
        C::LRange => list::lrange(ctx, a),
        C::LIndex => list::lindex(ctx, a),
        C::LSet => list::lset(ctx, a),
        C::LInsert => list::linsert(ctx, a),
        C::LRem => list::lrem(ctx, a),
        C::LTrim => list::ltrim(ctx, a),
        C::LPos => list::lpos(ctx, a),
        C::LMove => list::lmove(ctx, a),
        C::RPopLPush => list::rpoplpush(ctx, a),
        C::LMPop => list::lmpop(ctx, a),
        C::BLPop => list::blpop(ctx, a),
        C::BRPop => list::brpop(ctx, a),
        C::BLMove => list::blmove(ctx, a),
        C::BRPopLPush => list::brpoplpush(ctx, a),
        C::BLMPop => list::blmpop(ctx, a),
        C::SAdd => set::sadd(ctx, a),
        C::SRem => set::srem(ctx, a),
        C::SMembers => set::smembers(ctx, a),
        C::SIsMember => set::sismember(ctx, a),
        C::SMIsMember => set::smismember(ctx, a),
        C::SCard => set::scard(ctx, a),
        C::SPop => set::spop(ctx, a),
        C::SRandMember => set::srandmember(ctx, a),
        C::SMove => set::smove(ctx, a),
        C::SInter => set::sinter(ctx, a),
        C::SInterCard => set::sintercard(ctx, a),
        C::SUnion => set::sunion(ctx, a),
        C::SDiff => set::sdiff(ctx, a),
        C::SInterStore => set::sinterstore(ctx, a),
        C::SUnionStore => set::sunionstore(ctx, a),
        C::SDiffStore => set::sdiffstore(ctx, a),
        C::SScan => set::sscan(ctx, a),
        C::ZAdd => zset::zadd(ctx, a),
        C::ZIncrBy => zset::zincrby(ctx, a),
        C::ZRem => zset::zrem(ctx, a),
        C::ZCard => zset::zcard(ctx, a),
        C::ZCount => zset::zcount(ctx, a),
        C::ZLexCount => zset::zlexcount(ctx, a),
        C::ZScore => zset::zscore(ctx, a),
        C::ZMScore => zset::zmscore(ctx, a),
        C::ZRank => zset::zrank(ctx, a),
        C::ZRevRank => zset::zrevrank(ctx, a),
        C::ZRange => zset::zrange(ctx, a),
        C::ZRangeByScore => zset::zrangebyscore(ctx, a),
        C::ZRevRangeByScore => zset::zrevrangebyscore(ctx, a),
        C::ZRangeByLex => zset::zrangebylex(ctx, a),
        C::ZRevRangeByLex => zset::zrevrangebylex(ctx, a),
        C::ZRevRange => zset::zrevrange(ctx, a),
        C::ZRangeStore => zset::zrangestore(ctx, a),
        C::ZRemRangeByRank => zset::zremrangebyrank(ctx, a),
        C::ZRemRangeByScore => zset::zremrangebyscore(ctx, a),
        C::ZRemRangeByLex => zset::zremrangebylex(ctx, a),
        C::ZPopMin => zset::zpopmin(ctx, a),
        C::ZPopMax => zset::zpopmax(ctx, a),
        C::BZPopMin => zset::bzpopmin(ctx, a),
        C::BZPopMax => zset::bzpopmax(ctx, a),
        C::ZMPop => zset::zmpop(ctx, a),
        C::BZMPop => zset::bzmpop(ctx, a),
        C::ZUnion => zset::zunion(ctx, a),
        C::ZInter => zset::zinter(ctx, a),
        C::ZDiff => zset::zdiff(ctx, a),
        C::ZUnionStore => zset::zunionstore(ctx, a),
        C::ZInterStore => zset::zinterstore(ctx, a),
        C::ZDiffStore => zset::zdiffstore(ctx, a),
        C::ZInterCard => zset::zintercard(ctx, a),
        C::ZRandMember => zset::zrandmember(ctx, a),
        C::ZScan => zset::zscan(ctx, a),
        C::Multi => multi::multi(ctx, a),
        C::Exec => multi::exec(ctx, a),
        C::Discard => multi::discard(ctx, a),
        C::Watch => multi::watch(ctx, a),
        C::Unwatch => multi::unwatch(ctx, a),
        C::Subscribe => pubsub::subscribe(ctx, a),
        C::Unsubscribe => pubsub::unsubscribe(ctx, a),
        C::PSubscribe => pubsub::psubscribe(ctx, a),
        C::PUnsubscribe => pubsub::punsubscribe(ctx, a),
        C::Publish => pubsub::publish(ctx, a),
        C::PubSub => introspection::container_help(ctx, "pubsub"),
        C::PubSubChannels => pubsub::pubsub_channels(ctx, a),
        C::PubSubNumSub => pubsub::pubsub_numsub(ctx, a),
        C::PubSubNumPat => pubsub::pubsub_numpat(ctx, a),
        C::PubSubShardChannels => pubsub::pubsub_shardchannels(ctx, a),
        C::PubSubShardNumSub => pubsub::pubsub_shardnumsub(ctx, a),
        C::PubSubHelp => introspection::help(ctx, "pubsub"),
        C::SSubscribe => pubsub::ssubscribe(ctx, a),
        C::SUnsubscribe => pubsub::sunsubscribe(ctx, a),
        C::SPublish => pubsub::spublish(ctx, a),
        C::Dump => dump::dump(ctx, a),
        C::Restore => dump::restore(ctx, a),
        C::RestoreAsking => migrate::restore_asking(ctx, a),
        C::Migrate => migrate::migrate(ctx, a),
        C::SlotKv => introspection::container_help(ctx, "slotkv"),
        C::SlotKvHelp => introspection::help(ctx, "slotkv"),
        C::SlotKvMigrateSlot => migrate::migrate_slot(ctx, a),
        C::Asking => cc::asking(ctx),
        C::ReadOnly => cc::readonly(ctx, true),
        C::ReadWrite => cc::readonly(ctx, false),
        C::Cluster => introspection::container_help(ctx, "cluster"),
        C::ClusterHelp => introspection::help(ctx, "cluster"),
        C::ClusterAddSlots => cc::addslots(ctx, a, false),
        C::ClusterAddSlotsRange => cc::addslots(ctx, a, true),
        C::ClusterDelSlots => cc::delslots(ctx, a, false),
        C::ClusterDelSlotsRange => cc::delslots(ctx, a, true),
        C::ClusterBumpEpoch => cc::bumpepoch(ctx),
        C::ClusterCountFailureReports => cc::count_failure_reports(ctx, a),
        C::ClusterCountKeysInSlot => cc::countkeysinslot(ctx, a),
        C::ClusterFlushSlots => cc::flushslots(ctx),
        C::ClusterForget => cc::forget(ctx, a),
        C::ClusterGetKeysInSlot => cc::getkeysinslot(ctx, a),
        C::ClusterInfo => cc::info(ctx),
        C::ClusterKeySlot => cc::keyslot(ctx, a),
        C::ClusterLinks => cc::links(ctx),
        C::ClusterMeet => cc::meet(ctx, a),
        C::ClusterMyId => cc::myid(ctx),
        C::ClusterMyShardId => cc::myshardid(ctx),
        C::ClusterNodes => cc::nodes(ctx),
        C::ClusterReset => cc::reset(ctx, a),
        C::ClusterSaveConfig => cc::saveconfig(ctx),
        C::ClusterSetConfigEpoch => cc::set_config_epoch(ctx, a),
        C::ClusterSetSlot => cc::setslot(ctx, a),
        C::ClusterReplicate => cc::replicate(ctx, a),
        C::ClusterReplicas | C::ClusterSlaves => cc::replicas(ctx, a),
        C::ClusterFailover => cc::failover(ctx, a),
        C::ClusterShards => cc::shards(ctx),
        C::ClusterSlots => cc::slots(ctx),
        C::ClusterSlotStats => cc::slot_stats(ctx, a),
        C::Ping => connection::ping(ctx, a),
        C::Echo => connection::echo(ctx, a),
        C::Hello => connection::hello(ctx, a),
        C::Auth => connection::auth(ctx, a),
        C::Select => connection::select(ctx, a),
        C::Quit => connection::quit(ctx),
        C::Reset => connection::reset(ctx),
        C::Client => introspection::container_help(ctx, "client"),
        C::ClientSetName => connection::client_setname(ctx, a),
        C::ClientGetName => connection::client_getname(ctx),
        C::ClientId => connection::client_id(ctx),
        C::ClientInfo => connection::client_info(ctx),
        C::ClientList => connection::client_list(ctx, a),
        C::ClientKill => connection::client_kill(ctx, a),
        C::ClientSetInfo => connection::client_setinfo(ctx, a),
        C::ClientNoEvict => connection::client_flag(ctx, a, true),
        C::ClientNoTouch => connection::client_flag(ctx, a, false),
        C::ClientUnblock => connection::client_unblock(ctx, a),
        C::ClientHelp => introspection::help(ctx, "client"),
        C::Info => server::info(ctx, a),
        C::Config => introspection::container_help(ctx, "config"),
        C::ConfigGet => server::config_get(ctx, a),
        C::ConfigSet => server::config_set(ctx, a),
        C::ConfigResetStat => server::config_resetstat(ctx),
        C::ConfigRewrite => server::config_rewrite(ctx),
        C::ConfigHelp => introspection::help(ctx, "config"),
        C::Command => introspection::command_all(ctx),
        C::CommandCount => introspection::command_count(ctx),
        C::CommandInfo => introspection::command_info(ctx, a),
        C::CommandDocs => introspection::command_docs(ctx, a),
        C::CommandGetKeys => introspection::command_getkeys(ctx, a),
        C::CommandList => introspection::command_list(ctx, a),
        C::CommandHelp => introspection::help(ctx, "command"),
        C::DbSize => server::dbsize(ctx),
        C::FlushAll | C::FlushDb => server::flushall(ctx, a),
        C::Time => server::time(ctx),
        C::LastSave => persist::lastsave(ctx),
        C::Save => persist::save(ctx),
        C::ReplicaOf | C::SlaveOf => repl::replicaof(ctx, a),
        C::ReplConf => repl::replconf(ctx, a),
        C::PSync => repl::psync(ctx, a, false),
        C::Sync => repl::psync(ctx, a, true),
        C::Role => repl::role(ctx),
        C::Wait => repl::wait(ctx, a),
        C::BgSave => persist::bgsave(ctx, a),
        C::BgRewriteAof => persist::bgrewriteaof(ctx),
        C::Shutdown => server::shutdown(ctx, a),
        C::Eval => scripting::eval(ctx, a, false),
        C::EvalRo => scripting::eval(ctx, a, true),
        C::EvalSha => scripting::evalsha(ctx, a, false),
        C::EvalShaRo => scripting::evalsha(ctx, a, true),
        C::Script => introspection::container_help(ctx, "script"),
        C::ScriptExists => scripting::script_exists(ctx, a),
        C::ScriptFlush => scripting::script_flush(ctx, a),
        C::ScriptKill => scripting::script_kill(ctx),
        C::ScriptLoad => scripting::script_load(ctx, a),
        C::ScriptHelp => introspection::help(ctx, "script"),
    }
}
