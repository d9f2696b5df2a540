//! `COMMAND ...` and the `HELP` subcommands, all answered from the command table.

use crate::error::{self, CmdError, CmdResult};
use crate::server::Ctx;
use crate::types::is;
use slotkv_proto::command::flags::{self, FLAG_NAMES};
use slotkv_proto::reply::Out;
use slotkv_proto::{command, CommandSpec};

/// Containers are always called with a subcommand (their arity says so); this answers the odd case.
pub fn container_help(_ctx: &mut Ctx, name: &str) -> CmdResult {
    Err(error::unknown_subcommand(b"", name))
}

pub fn help(ctx: &mut Ctx, name: &str) -> CmdResult {
    let parent = command::lookup(name.as_bytes());
    let mut lines = vec![format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        name.to_ascii_uppercase()
    )];
    for sub in parent.into_iter().flat_map(CommandSpec::subcommands) {
        let subname = sub.name.split_once('|').map_or(sub.name, |(_, s)| s).to_ascii_uppercase();
        lines.push(subname);
        lines.push(format!("    {}", sub.summary));
    }
    ctx.me.out.array(lines.len());
    for l in lines {
        ctx.me.out.simple(&l);
    }
    Ok(())
}

/// ACL categories, in Redis's category order (keyspace, read, write, ..., hash, string, ..., admin, fast,
/// slow, ..., dangerous, connection).
fn acl_categories(c: &CommandSpec) -> Vec<&'static str> {
    let mut cats = Vec::new();
    if c.group == "generic" {
        cats.push("@keyspace");
    }
    if c.has(flags::READONLY) {
        cats.push("@read");
    }
    if c.has(flags::WRITE) {
        cats.push("@write");
    }
    match c.group {
        "hash" => cats.push("@hash"),
        "string" => cats.push("@string"),
        _ => {}
    }
    if c.has(flags::ADMIN) {
        cats.push("@admin");
    }
    cats.push(if c.has(flags::FAST) { "@fast" } else { "@slow" });
    if c.has(flags::ADMIN) {
        cats.push("@dangerous");
    }
    if c.group == "connection" {
        cats.push("@connection");
    }
    cats
}

/// Command tips for clients that split commands across shards, from the table's merge flags.
fn tips(c: &CommandSpec) -> Vec<&'static str> {
    if c.has(flags::MERGE_SUM) {
        vec!["request_policy:multi_shard", "response_policy:agg_sum"]
    } else if c.has(flags::MERGE_ALL_OK) {
        vec!["request_policy:multi_shard", "response_policy:all_succeeded"]
    } else if c.has(flags::MERGE_KEYS) {
        vec!["request_policy:multi_shard"]
    } else {
        Vec::new()
    }
}

/// Key-spec flags: access (`RO`, `RW`, `RM` for removal) and what is done to the key. An approximation
/// of Redis's per-command specs that is exact for the common commands.
fn key_spec_flags(c: &CommandSpec) -> &'static [&'static str] {
    if c.has(flags::MERGE_SUM) && c.has(flags::WRITE) {
        &["RM", "delete"]
    } else if c.has(flags::WRITE) {
        &["RW", "update"]
    } else {
        &["RO", "access"]
    }
}

/// One `COMMAND INFO` entry: the ten fields of Redis 7.
fn write_info(out: &mut Out, c: &CommandSpec) {
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    let names: Vec<&str> = FLAG_NAMES.iter().filter(|(f, _)| c.has(*f)).map(|(_, n)| *n).collect();
    out.set(names.len());
    names.iter().for_each(|n| out.simple(n));
    out.int(c.first_key as i64);
    out.int(c.last_key as i64);
    out.int(c.step as i64);
    let cats = acl_categories(c);
    out.set(cats.len());
    cats.iter().for_each(|n| out.simple(n));
    // Tips, key specs and subcommands are sets in RESP3, as Redis sends them.
    let tips = tips(c);
    out.set(tips.len());
    tips.iter().for_each(|t| out.simple(t));
    if c.first_key > 0 {
        out.set(1);
        out.map(3);
        out.bulk(b"flags");
        let key_flags = key_spec_flags(c);
        out.set(key_flags.len());
        key_flags.iter().for_each(|f| out.simple(f));
        out.bulk(b"begin_search");
        out.map(2);
        out.bulk(b"type");
        out.bulk(b"index");
        out.bulk(b"spec");
        out.map(1);
        out.bulk(b"index");
        out.int(c.first_key as i64);
        out.bulk(b"find_keys");
        out.map(2);
        out.bulk(b"type");
        out.bulk(b"range");
        out.bulk(b"spec");
        out.map(3);
        out.bulk(b"lastkey");
        out.int(if c.last_key < 0 { c.last_key as i64 } else { (c.last_key - c.first_key) as i64 });
        out.bulk(b"keystep");
        out.int(c.step as i64);
        out.bulk(b"limit");
        out.int(0);
    } else {
        out.set(0);
    }
    let subs: Vec<&CommandSpec> = c.subcommands().collect();
    out.set(subs.len());
    for s in subs {
        write_info(out, s);
    }
}

pub fn command_all(ctx: &mut Ctx) -> CmdResult {
    let all: Vec<&CommandSpec> = command::top_level().collect();
    ctx.me.out.array(all.len());
    for c in all {
        write_info(&mut ctx.me.out, c);
    }
    Ok(())
}

pub fn command_count(ctx: &mut Ctx) -> CmdResult {
    ctx.me.out.int(command::top_level().count() as i64);
    Ok(())
}

pub fn command_info(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let names = a.get(2..).unwrap_or_default();
    if names.is_empty() {
        return command_all(ctx);
    }
    ctx.me.out.array(names.len());
    for n in names {
        match lookup_any(n) {
            Some(c) => write_info(&mut ctx.me.out, c),
            None => ctx.me.out.null(),
        }
    }
    Ok(())
}

/// A command by name, or a subcommand by `parent|sub`.
fn lookup_any(name: &[u8]) -> Option<&'static CommandSpec> {
    command::lookup_row(name)
}

fn write_docs(out: &mut Out, c: &CommandSpec) {
    let subs: Vec<&CommandSpec> = c.subcommands().collect();
    out.map(if subs.is_empty() { 3 } else { 4 });
    out.bulk(b"summary");
    out.bulk(c.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(c.since.as_bytes());
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
    if !subs.is_empty() {
        out.bulk(b"subcommands");
        out.map(subs.len());
        for s in subs {
            out.bulk(s.name.as_bytes());
            write_docs(out, s);
        }
    }
}

pub fn command_docs(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let names = a.get(2..).unwrap_or_default();
    let specs: Vec<&CommandSpec> = if names.is_empty() {
        command::top_level().collect()
    } else {
        names.iter().filter_map(|n| lookup_any(n)).collect()
    };
    ctx.me.out.map(specs.len());
    for c in specs {
        ctx.me.out.bulk(c.name.as_bytes());
        write_docs(&mut ctx.me.out, c);
    }
    Ok(())
}

pub fn command_getkeys(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let argv = a.get(2..).unwrap_or_default();
    let spec = argv
        .first()
        .and_then(|n| command::lookup(n))
        .ok_or(CmdError::Static("ERR Invalid command specified"))?;
    let spec = match (spec.has(flags::CONTAINER), argv.get(1)) {
        (true, Some(sub)) => {
            command::lookup_sub(spec, sub).ok_or(CmdError::Static("ERR Invalid command specified"))?
        }
        _ => spec,
    };
    if !spec.arity_ok(argv.len()) {
        return Err(CmdError::Static("ERR Invalid number of arguments specified for command"));
    }
    let keys: Vec<&[u8]> = spec
        .keys_in(argv)
        .ok_or(CmdError::Static("ERR Invalid arguments specified for command"))?
        .into_iter()
        .filter_map(|i| argv.get(i).copied())
        .collect();
    if keys.is_empty() {
        return Err(CmdError::Static("ERR The command has no key arguments"));
    }
    ctx.me.out.bulks(keys.into_iter());
    Ok(())
}

pub fn command_list(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let mut pattern: Option<&[u8]> = None;
    let mut category: Option<&[u8]> = None;
    match a.get(2..).unwrap_or_default() {
        [] => {}
        [f, kind, value] if is(f, "filterby") && is(kind, "pattern") => pattern = Some(value),
        [f, kind, value] if is(f, "filterby") && is(kind, "aclcat") => category = Some(value),
        [f, kind, _] if is(f, "filterby") && is(kind, "module") => {
            ctx.me.out.array(0);
            return Ok(());
        }
        _ => return Err(CmdError::Syntax),
    }
    let names: Vec<&[u8]> = command::COMMANDS
        .iter()
        .filter(|c| pattern.is_none_or(|p| crate::glob::glob_match(p, c.name.as_bytes(), true)))
        .filter(|c| {
            category.is_none_or(|cat| acl_categories(c).iter().any(|n| n.as_bytes().get(1..) == Some(cat)))
        })
        .map(|c| c.name.as_bytes())
        .collect();
    ctx.me.out.bulks(names.into_iter());
    Ok(())
}
