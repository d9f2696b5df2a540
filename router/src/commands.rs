//! The commands the router answers itself: connection state (`HELLO`, `AUTH`, `SELECT`, `CLIENT`...),
//! the cluster seen as one node (`CLUSTER`, `INFO`), commands that fan out to every node and merge
//! (`PING`, `DBSIZE`, `KEYS`, `SCAN`, `RANDOMKEY`, `FLUSHALL`...), and the dispatch to transactions,
//! pub/sub and blocking commands.

use crate::resp;
use crate::session::{first_key_slot, Session};
use crate::state::Backend;
use slotkv_proto::command::{CommandId as C, CommandSpec};
use slotkv_proto::reply::Out;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::TcpStream;

/// Version strings clients gate features on (as the nodes report them).
const REDIS_VERSION: &str = "7.2.4";
/// Router cursors keep the node index in their low bits (see `scan`).
const SCAN_NODE_BITS: u32 = 10;

fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

impl Session {
    fn err(&mut self, msg: &str) {
        resp::write_error(&mut self.out, msg);
    }

    fn reply_out(&self) -> Out {
        Out::new(self.resp3)
    }

    pub async fn local(&mut self, spec: &'static CommandSpec, argv: &[&[u8]], stream: &mut TcpStream) {
        if !spec.arity_ok(argv.len()) {
            return self.err(&wrong_arity(spec.name));
        }
        match spec.id {
            C::Hello => self.hello(argv),
            C::Auth => self.auth(argv),
            C::Select => match slotkv_proto::request::parse_i64(argv.get(1).copied().unwrap_or_default()) {
                None => self.err("ERR value is not an integer or out of range"),
                Some(0) => self.out.extend_from_slice(b"+OK\r\n"),
                Some(_) => self.err("ERR SELECT is not allowed in cluster mode"),
            },
            C::Quit => {
                self.out.extend_from_slice(b"+OK\r\n");
                self.quit = true;
            }
            C::Reset => {
                self.tx_reset();
                self.subs_reset();
                self.resp3 = false;
                self.authed = self.router.config.requirepass.is_none();
                if let Ok(mut info) = self.entry.info.lock() {
                    info.name.clear();
                    info.resp = 2;
                }
                self.out.extend_from_slice(b"+RESET\r\n");
            }
            C::Ping => {
                if self.subs.as_ref().is_some_and(|s| s.active()) {
                    self.cmd_sub_main(argv, |_| 1).await;
                } else {
                    let replies = self.fan_out(argv).await;
                    self.merge_first_error(&replies);
                }
            }
            C::Echo => resp::write_bulk(&mut self.out, argv.get(1).copied().unwrap_or_default()),
            C::Client => self.client_cmd(argv),
            C::Cluster => self.cluster_cmd(argv).await,
            C::Info => self.info(argv).await,
            C::DbSize => {
                let replies = self.fan_out(argv).await;
                self.merge_sum(&replies);
            }
            C::FlushAll | C::FlushDb | C::Save | C::BgSave | C::BgRewriteAof => {
                let replies = self.fan_out(argv).await;
                self.merge_first_error(&replies);
            }
            C::Keys => {
                let replies = self.fan_out(argv).await;
                if let Some(e) = replies.iter().find(|r| resp::is_error(r)) {
                    let e = e.clone();
                    return self.out.extend_from_slice(&e);
                }
                let all: Vec<Vec<u8>> = replies
                    .iter()
                    .flat_map(|r| resp::items(r).unwrap_or_default())
                    .map(<[u8]>::to_vec)
                    .collect();
                resp::header(&mut self.out, b'*', all.len());
                for k in all {
                    self.out.extend_from_slice(&k);
                }
            }
            C::RandomKey => self.randomkey(argv).await,
            C::Scan => self.scan(argv).await,
            C::Multi => self.cmd_multi().await,
            C::Exec => self.cmd_exec().await,
            C::Discard => self.cmd_discard().await,
            C::Watch => self.cmd_watch(argv).await,
            C::Unwatch => self.cmd_unwatch().await,
            C::Subscribe | C::PSubscribe => self.cmd_sub_main(argv, |_| 1).await,
            C::Unsubscribe => self.cmd_sub_main(argv, |s| s.counts().0).await,
            C::PUnsubscribe => self.cmd_sub_main(argv, |s| s.counts().1).await,
            C::SSubscribe => self.cmd_shard(argv, true).await,
            C::SUnsubscribe => self.cmd_shard(argv, false).await,
            C::ReadOnly | C::ReadWrite | C::Asking => self.out.extend_from_slice(b"+OK\r\n"),
            C::Shutdown => {
                self.err("ERR SHUTDOWN is not allowed through slotkv-router: stop the router with SIGTERM")
            }
            C::SlotKv => self.err("ERR SLOTKV commands go to a node, not through slotkv-router"),
            C::Config => {
                let sub = argv.get(1).copied().unwrap_or_default();
                if eq(sub, "set") || eq(sub, "resetstat") || eq(sub, "rewrite") {
                    let replies = self.fan_out(argv).await;
                    self.merge_first_error(&replies);
                } else {
                    let r = self.call_node(0, argv).await;
                    self.out.extend_from_slice(&r);
                }
            }
            // Scripts are cached per node: loading or flushing goes to every node (as the smart client
            // does), so that EVALSHA finds the script wherever its keys live.
            C::Script if argv.get(1).is_some_and(|s| eq(s, "load") || eq(s, "flush")) => {
                let replies = self.fan_out(argv).await;
                self.merge_first_error(&replies);
            }
            C::Script if argv.get(1).is_some_and(|s| eq(s, "exists")) => {
                let replies = self.fan_out(argv).await;
                self.merge_all_exist(&replies);
            }
            _ if spec.has(slotkv_proto::command::flags::BLOCKING) => self.blocking(spec, argv, stream).await,
            _ => {
                let r = self.call_node(0, argv).await;
                self.out.extend_from_slice(&r);
            }
        }
    }

    // ---- connection ----

    fn check_password(&self, user: Option<&[u8]>, pass: &[u8]) -> Result<(), &'static str> {
        let user_ok = user.is_none_or(|u| u == b"default");
        match &self.router.config.requirepass {
            Some(pw) if user_ok && pw.as_bytes() == pass => Ok(()),
            Some(_) => Err("WRONGPASS invalid username-password pair or user is disabled."),
            None if user.is_none() => Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
            None if user_ok => Ok(()),
            None => Err("WRONGPASS invalid username-password pair or user is disabled."),
        }
    }

    fn auth(&mut self, argv: &[&[u8]]) {
        let result = match argv.len() {
            2 => self.check_password(None, argv.get(1).copied().unwrap_or_default()),
            3 => self.check_password(argv.get(1).copied(), argv.get(2).copied().unwrap_or_default()),
            _ => Err("ERR syntax error"),
        };
        match result {
            Ok(()) => {
                self.authed = true;
                self.out.extend_from_slice(b"+OK\r\n");
            }
            Err(e) => self.err(e),
        }
    }

    fn hello(&mut self, argv: &[&[u8]]) {
        let mut proto = if self.resp3 { 3 } else { 2 };
        let mut i = 1;
        if let Some(v) = argv.get(1) {
            match slotkv_proto::request::parse_i64(v) {
                Some(v @ 2..=3) => proto = v,
                Some(_) => return self.err("NOPROTO unsupported protocol version"),
                None => return self.err("ERR Protocol version is not an integer or out of range"),
            }
            i = 2;
        }
        let mut auth: Option<(&[u8], &[u8])> = None;
        let mut name: Option<&[u8]> = None;
        while let Some(opt) = argv.get(i) {
            if eq(opt, "auth") && i + 2 < argv.len() {
                auth = argv.get(i + 1).copied().zip(argv.get(i + 2).copied());
                i += 3;
            } else if eq(opt, "setname") && i + 1 < argv.len() {
                name = argv.get(i + 1).copied();
                i += 2;
            } else {
                return self.err(&format!("ERR Syntax error in HELLO option '{}'", lossy(opt)));
            }
        }
        if let Some((user, pass)) = auth {
            if let Err(e) = self.check_password(Some(user), pass) {
                return self.err(e);
            }
            self.authed = true;
        }
        if !self.authed {
            return self.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }
        if let Some(n) = name {
            if let Err(e) = valid_name(n, "Client names") {
                return self.err(&e);
            }
            if let Ok(mut info) = self.entry.info.lock() {
                info.name = lossy(n);
            }
        }
        self.resp3 = proto == 3;
        if let Ok(mut info) = self.entry.info.lock() {
            info.resp = proto as u8;
        }
        let mut o = self.reply_out();
        o.map(7);
        o.bulk(b"server");
        o.bulk(b"redis");
        o.bulk(b"version");
        o.bulk(REDIS_VERSION.as_bytes());
        o.bulk(b"proto");
        o.int(proto);
        o.bulk(b"id");
        o.int(self.entry.id as i64);
        o.bulk(b"mode");
        o.bulk(b"cluster");
        o.bulk(b"role");
        o.bulk(b"master");
        o.bulk(b"modules");
        o.array(0);
        self.out.extend_from_slice(&o.buf);
    }

    fn client_cmd(&mut self, argv: &[&[u8]]) {
        let sub = argv.get(1).copied().unwrap_or_default();
        let parent = slotkv_proto::lookup(b"client");
        let Some(spec) = parent.and_then(|p| slotkv_proto::lookup_sub(p, sub)) else {
            return self.err(&format!("ERR unknown subcommand '{}'. Try CLIENT HELP.", lossy(sub)));
        };
        if !spec.arity_ok(argv.len()) {
            return self.err(&wrong_arity(spec.name));
        }
        let arg = |i: usize| argv.get(i).copied().unwrap_or_default();
        match spec.name {
            "client|setname" => match valid_name(arg(2), "Client names") {
                Ok(()) => {
                    if let Ok(mut info) = self.entry.info.lock() {
                        info.name = lossy(arg(2));
                    }
                    self.out.extend_from_slice(b"+OK\r\n");
                }
                Err(e) => self.err(&e),
            },
            "client|getname" => {
                let name = self.entry.info.lock().map(|i| i.name.clone()).unwrap_or_default();
                if name.is_empty() {
                    let mut o = self.reply_out();
                    o.null();
                    self.out.extend_from_slice(&o.buf);
                } else {
                    resp::write_bulk(&mut self.out, name.as_bytes());
                }
            }
            "client|id" => resp::write_int(&mut self.out, self.entry.id as i64),
            "client|setinfo" => {
                let (what, value) = (arg(2), arg(3));
                let field = if eq(what, "lib-name") {
                    "lib-name"
                } else if eq(what, "lib-ver") {
                    "lib-ver"
                } else {
                    return self.err(&format!("ERR Unrecognized option '{}'", lossy(what)));
                };
                if let Err(e) = valid_name(value, field) {
                    return self.err(&e);
                }
                if let Ok(mut info) = self.entry.info.lock() {
                    if field == "lib-name" {
                        info.lib_name = lossy(value);
                    } else {
                        info.lib_ver = lossy(value);
                    }
                }
                self.out.extend_from_slice(b"+OK\r\n");
            }
            "client|info" => {
                let line = client_line(&self.entry, self.resp3);
                let mut o = self.reply_out();
                o.verbatim(line.as_bytes());
                self.out.extend_from_slice(&o.buf);
            }
            "client|list" => {
                let mut ids: Option<Vec<u64>> = None;
                let mut i = 2;
                while i < argv.len() {
                    if eq(arg(i), "type") && i + 1 < argv.len() {
                        let t = arg(i + 1);
                        if !(eq(t, "normal")
                            || eq(t, "pubsub")
                            || eq(t, "master")
                            || eq(t, "replica")
                            || eq(t, "slave"))
                        {
                            return self.err(&format!("ERR Unknown client type '{}'", lossy(t)));
                        }
                        if !eq(t, "normal") {
                            ids = Some(Vec::new());
                        }
                        i += 2;
                    } else if eq(arg(i), "id") && i + 1 < argv.len() {
                        let mut list = Vec::new();
                        for a in argv.iter().skip(i + 1) {
                            match slotkv_proto::request::parse_i64(a) {
                                Some(n) if n > 0 => list.push(n as u64),
                                _ => return self.err("ERR Invalid client ID"),
                            }
                        }
                        ids = Some(list);
                        i = argv.len();
                    } else {
                        return self.err("ERR syntax error");
                    }
                }
                let mut text = String::new();
                for c in self.router.clients() {
                    if ids.as_ref().is_none_or(|ids| ids.contains(&c.id)) {
                        text.push_str(&client_line(&c, c.id == self.entry.id && self.resp3));
                    }
                }
                let mut o = self.reply_out();
                o.verbatim(text.as_bytes());
                self.out.extend_from_slice(&o.buf);
            }
            "client|kill" => self.client_kill(argv),
            "client|no-evict" | "client|no-touch" => {
                if eq(arg(2), "on") || eq(arg(2), "off") {
                    self.out.extend_from_slice(b"+OK\r\n");
                } else {
                    self.err("ERR syntax error");
                }
            }
            "client|unblock" => resp::write_int(&mut self.out, 0),
            "client|help" => {
                let lines: &[&str] = &[
                    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "GETNAME",
                    "    Return the name of the current connection.",
                    "ID",
                    "    Return the ID of the current connection.",
                    "INFO",
                    "    Return information about the current client connection.",
                    "KILL <ip:port>",
                    "    Kill connection made from <ip:port>.",
                    "KILL <option> <value> [<option> <value> [...]]",
                    "    Kill connections. Options are: ID, ADDR, LADDR, SKIPME.",
                    "LIST [options ...]",
                    "    Return information about client connections. Options: TYPE, ID.",
                    "SETNAME <name>",
                    "    Assign the name <name> to the current connection.",
                    "SETINFO <option> <value>",
                    "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
                    "HELP",
                    "    Print this help.",
                ];
                resp::header(&mut self.out, b'*', lines.len());
                for l in lines {
                    self.out.push(b'+');
                    self.out.extend_from_slice(l.as_bytes());
                    self.out.extend_from_slice(b"\r\n");
                }
            }
            other => self.err(&format!(
                "ERR CLIENT {} is not supported through slotkv-router",
                other.trim_start_matches("client|").to_uppercase()
            )),
        }
    }

    fn client_kill(&mut self, argv: &[&[u8]]) {
        let arg = |i: usize| argv.get(i).copied().unwrap_or_default();
        let clients = self.router.clients();
        // Old form: CLIENT KILL ip:port -> OK or an error.
        if argv.len() == 3 {
            let addr = lossy(arg(2));
            return match clients.iter().find(|c| c.addr == addr) {
                Some(c) => {
                    kill(c);
                    self.out.extend_from_slice(b"+OK\r\n");
                }
                None => self.err("ERR No such client"),
            };
        }
        let (mut id, mut addr, mut laddr, mut skipme) = (None, None, None, true);
        let mut i = 2;
        while i + 1 < argv.len() {
            let v = arg(i + 1);
            if eq(arg(i), "id") {
                match slotkv_proto::request::parse_i64(v) {
                    Some(n) if n > 0 => id = Some(n as u64),
                    _ => return self.err("ERR client-id should be greater than 0"),
                }
            } else if eq(arg(i), "addr") {
                addr = Some(lossy(v));
            } else if eq(arg(i), "laddr") {
                laddr = Some(lossy(v));
            } else if eq(arg(i), "skipme") {
                if eq(v, "yes") {
                    skipme = true;
                } else if eq(v, "no") {
                    skipme = false;
                } else {
                    return self.err("ERR syntax error");
                }
            } else if eq(arg(i), "type") || eq(arg(i), "user") || eq(arg(i), "maxage") {
                // Every router client is a normal one of user default.
            } else {
                return self.err("ERR syntax error");
            }
            i += 2;
        }
        if i != argv.len() {
            return self.err("ERR syntax error");
        }
        let mut n = 0;
        for c in &clients {
            let matches = id.is_none_or(|id| c.id == id)
                && addr.as_ref().is_none_or(|a| *a == c.addr)
                && laddr.as_ref().is_none_or(|a| *a == c.laddr)
                && !(skipme && c.id == self.entry.id);
            if matches {
                kill(c);
                n += 1;
            }
        }
        resp::write_int(&mut self.out, n);
    }

    // ---- the cluster as one node ----

    /// The router's own address as this client reached it.
    fn my_addr(&self) -> (String, u16) {
        match self.entry.laddr.rsplit_once(':') {
            Some((ip, port)) => {
                (ip.trim_matches(['[', ']']).to_string(), port.parse().unwrap_or(self.router.config.port))
            }
            None => (self.router.config.bind.clone(), self.router.config.port),
        }
    }

    async fn cluster_cmd(&mut self, argv: &[&[u8]]) {
        let sub = argv.get(1).copied().unwrap_or_default();
        let parent = slotkv_proto::lookup(b"cluster");
        let Some(spec) = parent.and_then(|p| slotkv_proto::lookup_sub(p, sub)) else {
            return self.err(&format!("ERR unknown subcommand '{}'. Try CLUSTER HELP.", lossy(sub)));
        };
        if !spec.arity_ok(argv.len()) {
            return self.err(&wrong_arity(spec.name));
        }
        let (ip, port) = self.my_addr();
        let id = self.router.run_id.clone();
        let mut o = self.reply_out();
        match spec.name {
            "cluster|myid" => o.bulk(id.as_bytes()),
            "cluster|myshardid" => o.bulk(id.as_bytes()),
            "cluster|keyslot" => {
                o.int(i64::from(slotkv_proto::key_slot(argv.get(2).copied().unwrap_or_default())))
            }
            "cluster|info" => {
                let text = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:1\r\ncluster_my_epoch:1\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n";
                o.verbatim(text.as_bytes());
            }
            "cluster|nodes" => {
                let line = format!("{id} {ip}:{port}@0 myself,master - 0 0 1 connected 0-16383\n");
                o.verbatim(line.as_bytes());
            }
            "cluster|slots" => {
                o.array(1);
                o.array(3);
                o.int(0);
                o.int(16383);
                o.array(4);
                o.bulk(ip.as_bytes());
                o.int(i64::from(port));
                o.bulk(id.as_bytes());
                o.map(0);
            }
            "cluster|shards" => {
                o.array(1);
                o.map(2);
                o.bulk(b"slots");
                o.array(2);
                o.int(0);
                o.int(16383);
                o.bulk(b"nodes");
                o.array(1);
                o.map(7);
                o.bulk(b"id");
                o.bulk(id.as_bytes());
                o.bulk(b"port");
                o.int(i64::from(port));
                o.bulk(b"ip");
                o.bulk(ip.as_bytes());
                o.bulk(b"endpoint");
                o.bulk(ip.as_bytes());
                o.bulk(b"role");
                o.bulk(b"master");
                o.bulk(b"replication-offset");
                o.int(0);
                o.bulk(b"health");
                o.bulk(b"online");
            }
            "cluster|countkeysinslot" | "cluster|getkeysinslot" => {
                let slot = slotkv_proto::request::parse_i64(argv.get(2).copied().unwrap_or_default());
                let node =
                    slot.and_then(|s| u16::try_from(s).ok()).and_then(|s| self.topo.owner(s)).unwrap_or(0);
                let r = self.call_node(node, argv).await;
                self.out.extend_from_slice(&r);
                return;
            }
            "cluster|help" => {
                let lines = [
                    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "INFO, NODES, SLOTS, SHARDS, MYID, MYSHARDID, KEYSLOT <key>, COUNTKEYSINSLOT <slot>, GETKEYSINSLOT <slot> <count>",
                    "    slotkv-router answers as one node owning every slot.",
                    "HELP",
                    "    Print this help.",
                ];
                o.array(lines.len());
                for l in lines {
                    o.simple(l);
                }
            }
            other => {
                return self.err(&format!(
                "ERR CLUSTER {} is not supported through slotkv-router (it shows the cluster as one node)",
                other.trim_start_matches("cluster|").to_uppercase()
            ))
            }
        }
        self.out.extend_from_slice(&o.buf);
    }

    async fn info(&mut self, argv: &[&[u8]]) {
        let wanted: Vec<String> = argv.iter().skip(1).map(|a| lossy(a).to_lowercase()).collect();
        let all =
            wanted.is_empty() || wanted.iter().any(|w| w == "all" || w == "everything" || w == "default");
        let want = |s: &str| all || wanted.iter().any(|w| w == s);
        let r = &self.router;
        let mut text = String::new();
        let uptime = r.started.elapsed().as_secs();
        if want("server") {
            text.push_str(&format!(
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nslotkv_version:{}\r\nredis_mode:cluster\r\nslotkv_role:router\r\nos:{}\r\narch_bits:64\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nexecutable:slotkv-router\r\n\r\n",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::process::id(),
                r.run_id,
                r.config.port,
                uptime / 86400,
            ));
        }
        if want("clients") {
            let blocked = 0;
            text.push_str(&format!(
                "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{blocked}\r\n\r\n",
                r.connected.load(Ordering::Relaxed),
                r.config.maxclients
            ));
        }
        if want("stats") {
            let s = &r.stats;
            text.push_str(&format!(
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nrejected_connections:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_error_replies:{}\r\nrouter_redirects_followed:{}\r\n\r\n",
                s.connections_received.load(Ordering::Relaxed),
                s.commands.load(Ordering::Relaxed),
                s.rejected_connections.load(Ordering::Relaxed),
                s.net_input.load(Ordering::Relaxed),
                s.net_output.load(Ordering::Relaxed),
                s.errors.load(Ordering::Relaxed),
                s.redirects.load(Ordering::Relaxed),
            ));
        }
        if want("router") {
            text.push_str(&format!(
                "# Router\r\nrouter_threads:{}\r\nrouter_nodes:{}\r\nrouter_replicas:{}\r\nrouter_slot_map_version:{}\r\n",
                r.config.threads,
                self.topo.nodes.len(),
                self.topo.replicas.len(),
                self.topo.version
            ));
            // The primaries (node0...), then the replicas that serve reads.
            for (i, b) in self.topo.nodes.iter().chain(&self.topo.replicas).enumerate() {
                let ops = b.ops.load(Ordering::Relaxed);
                let secs = uptime.max(1);
                let batches = b.batches.load(Ordering::Relaxed);
                let avg = b.wait_us.load(Ordering::Relaxed).checked_div(batches).unwrap_or(0);
                text.push_str(&format!(
                    "node{i}:addr={},ops={ops},ops_per_sec={},errors={},batches={batches},avg_batch_latency_us={avg}\r\n",
                    b.addr,
                    ops / secs,
                    b.errors.load(Ordering::Relaxed),
                ));
            }
            text.push_str("\r\n");
        }
        if want("cluster") {
            text.push_str("# Cluster\r\ncluster_enabled:1\r\n\r\n");
        }
        if want("keyspace") {
            let replies = self.fan_out(&[b"INFO", b"keyspace"]).await;
            let (mut keys, mut expires) = (0u64, 0u64);
            for r in &replies {
                let body = resp::bulk(r).map(<[u8]>::to_vec).or_else(|| verbatim_text(r)).unwrap_or_default();
                for line in String::from_utf8_lossy(&body).lines() {
                    if let Some(rest) = line.strip_prefix("db0:") {
                        for kv in rest.split(',') {
                            match kv.split_once('=') {
                                Some(("keys", n)) => keys += n.trim().parse::<u64>().unwrap_or(0),
                                Some(("expires", n)) => expires += n.trim().parse::<u64>().unwrap_or(0),
                                _ => {}
                            }
                        }
                    }
                }
            }
            text.push_str("# Keyspace\r\n");
            if keys > 0 {
                text.push_str(&format!("db0:keys={keys},expires={expires},avg_ttl=0\r\n"));
            }
            text.push_str("\r\n");
        }
        let text = text.trim_end_matches("\r\n").to_string() + "\r\n";
        let mut o = self.reply_out();
        o.verbatim(text.as_bytes());
        self.out.extend_from_slice(&o.buf);
    }

    // ---- fan-out ----

    /// Sends one command to every node (shared connections, all at once); each node's raw reply, in node
    /// order (an unreachable node's as an error reply).
    pub async fn fan_out(&mut self, argv: &[&[u8]]) -> Vec<Vec<u8>> {
        let bytes = crate::tx::encode(argv);
        let nodes: Vec<Arc<Backend>> = self.topo.nodes.clone();
        let mut waits = Vec::with_capacity(nodes.len());
        for b in &nodes {
            let sent = match self.router.conn(b, self.resp3).await {
                Ok(c) => c.send(bytes.clone(), 1),
                Err(e) => Err(e),
            };
            waits.push(sent);
        }
        let mut out = Vec::with_capacity(nodes.len());
        for (b, w) in nodes.iter().zip(waits) {
            let r = match w {
                Ok(rx) => {
                    rx.await.unwrap_or_else(|_| Err(slotkv_client::Error::Io("connection closed".into())))
                }
                Err(e) => Err(e),
            };
            out.push(match r.ok().and_then(|r| r.get(0).map(<[u8]>::to_vec)) {
                Some(reply) => reply,
                None => {
                    b.errors.fetch_add(1, Ordering::Relaxed);
                    format!("-CLUSTERDOWN slotkv-router: node {} unreachable\r\n", b.addr).into_bytes()
                }
            });
        }
        out
    }

    /// One command to node `i` (keyless: `COMMAND`, `TIME`, `CONFIG GET`...), its raw reply.
    pub async fn call_node(&mut self, i: usize, argv: &[&[u8]]) -> Vec<u8> {
        let Some(b) = self.topo.nodes.get(i).cloned() else {
            return b"-CLUSTERDOWN The cluster is down\r\n".to_vec();
        };
        let bytes = crate::tx::encode(argv);
        let r = match self.router.conn(&b, self.resp3).await {
            Ok(c) => c.call(bytes.clone(), 1).await,
            Err(e) => Err(e),
        };
        match r.ok().and_then(|r| r.get(0).map(<[u8]>::to_vec)) {
            Some(reply) if !resp::is_redirect(&reply) => reply,
            _ => crate::batch::slow_path(&self.router, &bytes, self.resp3).await,
        }
    }

    /// The first node's error if any failed, else the first reply (every node answered alike).
    fn merge_first_error(&mut self, replies: &[Vec<u8>]) {
        match replies.iter().find(|r| resp::is_error(r)).or(replies.first()) {
            Some(r) => self.out.extend_from_slice(r),
            None => self.err("CLUSTERDOWN The cluster is down"),
        }
    }

    /// `SCRIPT EXISTS` of every node: 1 where every node has the script.
    fn merge_all_exist(&mut self, replies: &[Vec<u8>]) {
        if let Some(e) = replies.iter().find(|r| resp::is_error(r)) {
            let e = e.clone();
            return self.out.extend_from_slice(&e);
        }
        let per_node: Vec<Vec<i64>> = replies
            .iter()
            .map(|r| resp::items(r).unwrap_or_default().into_iter().filter_map(resp::int).collect())
            .collect();
        let n = per_node.first().map_or(0, Vec::len);
        resp::header(&mut self.out, b'*', n);
        for i in 0..n {
            let all = per_node.iter().all(|v| v.get(i) == Some(&1));
            resp::write_int(&mut self.out, i64::from(all));
        }
    }

    fn merge_sum(&mut self, replies: &[Vec<u8>]) {
        if let Some(e) = replies.iter().find(|r| resp::is_error(r)) {
            let e = e.clone();
            return self.out.extend_from_slice(&e);
        }
        let total: i64 = replies.iter().filter_map(|r| resp::int(r)).sum();
        resp::write_int(&mut self.out, total);
    }

    async fn randomkey(&mut self, argv: &[&[u8]]) {
        let n = self.topo.nodes.len();
        let start = fastrand::usize(..n.max(1));
        for k in 0..n {
            let r = self.call_node((start + k) % n, argv).await;
            if !resp::is_null(&r) || k + 1 == n {
                return self.out.extend_from_slice(&r);
            }
        }
        let mut o = self.reply_out();
        o.null();
        self.out.extend_from_slice(&o.buf);
    }

    /// `SCAN` over every node in turn. The router's cursor is the node's cursor with the node index in its
    /// low `SCAN_NODE_BITS` bits: a node cursor (the slot in its top bits, the hash position below) resumes
    /// from slightly earlier once its low bits are cleared, which may return a key twice but never misses
    /// one, as `SCAN` allows.
    async fn scan(&mut self, argv: &[&[u8]]) {
        let Some(cursor) = std::str::from_utf8(argv.get(1).copied().unwrap_or_default())
            .ok()
            .and_then(|c| c.parse::<u64>().ok())
        else {
            return self.err("ERR invalid cursor");
        };
        let mask = (1u64 << SCAN_NODE_BITS) - 1;
        let mut node = (cursor & mask) as usize;
        let mut node_cursor = cursor & !mask;
        let n = self.topo.nodes.len();
        loop {
            if node >= n {
                resp::header(&mut self.out, b'*', 2);
                resp::write_bulk(&mut self.out, b"0");
                resp::header(&mut self.out, b'*', 0);
                return;
            }
            let cur = node_cursor.to_string();
            let mut args: Vec<&[u8]> = vec![b"SCAN", cur.as_bytes()];
            args.extend(argv.iter().skip(2));
            let r = self.call_node(node, &args).await;
            let Some(items) = resp::items(&r) else { return self.out.extend_from_slice(&r) };
            let next = items
                .first()
                .and_then(|c| resp::bulk(c))
                .and_then(|c| std::str::from_utf8(c).ok()?.parse::<u64>().ok());
            let (Some(next), Some(keys)) = (next, items.get(1)) else {
                return self.out.extend_from_slice(&r);
            };
            let out_cursor = if next != 0 {
                (next & !mask) | node as u64
            } else if node + 1 < n {
                (node + 1) as u64
            } else {
                0
            };
            // An empty page at the end of a node moves on at once rather than answering nothing.
            if next == 0 && node + 1 < n && resp::items(keys).is_some_and(|k| k.is_empty()) {
                node += 1;
                node_cursor = 0;
                continue;
            }
            resp::header(&mut self.out, b'*', 2);
            resp::write_bulk(&mut self.out, out_cursor.to_string().as_bytes());
            self.out.extend_from_slice(keys);
            return;
        }
    }

    // ---- blocking commands ----

    /// A blocking command on a dedicated connection to the owner of its first key (from a small pool),
    /// given back once answered; if the client leaves meanwhile, the connection is closed so that the node
    /// stops blocking for it.
    async fn blocking(&mut self, spec: &CommandSpec, argv: &[&[u8]], stream: &mut TcpStream) {
        let bytes = crate::tx::encode(argv);
        let slot = first_key_slot(spec, argv);
        let mut addr = slot
            .and_then(|s| self.topo.owner(s))
            .or(Some(0))
            .and_then(|i| self.topo.nodes.get(i))
            .map(|b| b.addr.to_string());
        let mut asking = false;
        for attempt in 0..8u32 {
            let Some(target) = addr.clone() else { break };
            let mut conn = match self.router.dedicated(&target, self.resp3).await {
                Ok(c) => c,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
                    self.router.mark_stale();
                    addr = self.fresh_owner(slot).await;
                    continue;
                }
            };
            let mut req = if asking { b"*1\r\n$6\r\nASKING\r\n".to_vec() } else { Vec::new() };
            req.extend_from_slice(&bytes);
            if conn.write(&req).await.is_err() {
                continue;
            }
            let mut want = if asking { 2 } else { 1 };
            let reply = loop {
                tokio::select! {
                    r = conn.read_frame() => match r {
                        Ok(f) if f.first() == Some(&b'>') => continue,
                        Ok(f) => {
                            want -= 1;
                            if want == 0 { break Some(f) }
                        }
                        Err(_) => break None,
                    },
                    _ = client_gone(stream) => return,
                    _ = self.entry.killed() => { self.quit = true; return }
                }
            };
            let Some(reply) = reply else { continue };
            let line = String::from_utf8_lossy(resp::line(&reply)).into_owned();
            asking = false;
            if reply.starts_with(b"-MOVED ") {
                self.router.mark_stale();
                addr = line.split(' ').nth(2).map(str::to_string);
                self.router.release(conn, self.resp3);
                continue;
            }
            if reply.starts_with(b"-ASK ") {
                addr = line.split(' ').nth(2).map(str::to_string);
                asking = true;
                self.router.release(conn, self.resp3);
                continue;
            }
            if resp::is_redirect(&reply) {
                self.router.release(conn, self.resp3);
                tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
                addr = self.fresh_owner(slot).await;
                continue;
            }
            self.router.release(conn, self.resp3);
            self.out.extend_from_slice(&reply);
            return;
        }
        self.err("CLUSTERDOWN slotkv-router: no node answered the blocking command");
    }

    async fn fresh_owner(&mut self, slot: Option<u16>) -> Option<String> {
        let _ = self.router.client(self.resp3).refresh().await;
        let s = slot.unwrap_or(0);
        self.router.client(self.resp3).slot_owner(s)
    }
}

/// Resolves when the client closes its side (data sent meanwhile waits for after the blocking command).
async fn client_gone(stream: &mut TcpStream) {
    let mut probe = [0u8; 1];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.peek(&mut probe).await {
            Ok(0) | Err(_) => return,
            // The client pipelined more: it is still there; wait for the command without spinning.
            Ok(_) => std::future::pending::<()>().await,
        }
    }
}

fn kill(c: &crate::state::ClientEntry) {
    c.kill();
}

/// Redis's rule for client names and library names: printable, no spaces.
fn valid_name(name: &[u8], what: &str) -> Result<(), String> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(format!("ERR {what} cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

fn verbatim_text(reply: &[u8]) -> Option<Vec<u8>> {
    if reply.first() != Some(&b'=') {
        return None;
    }
    let nl = reply.iter().position(|&b| b == b'\n')?;
    reply.get(nl + 5..reply.len().checked_sub(2)?).map(<[u8]>::to_vec)
}

/// One `CLIENT LIST` line.
fn client_line(c: &crate::state::ClientEntry, _self_resp3: bool) -> String {
    let info = c.info.lock().map(|i| i.clone()).unwrap_or_default();
    let age = c.created.elapsed().as_secs();
    let idle = info.last_active.map(|t| t.elapsed().as_secs()).unwrap_or(age);
    let flags = if info.sub + info.psub + info.ssub > 0 {
        "P"
    } else if info.multi >= 0 {
        "x"
    } else {
        "N"
    };
    let cmd = if info.last_cmd.is_empty() { "NULL".to_string() } else { info.last_cmd.clone() };
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={age} idle={idle} flags={flags} db=0 sub={} psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={cmd} user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
        c.id, c.addr, c.laddr, info.name, info.sub, info.psub, info.ssub, info.multi, info.resp, info.lib_name, info.lib_ver
    )
}
