//! Many connections at once, clients that vanish mid-pipeline, concurrent clients, idle timeouts.

use slotkv_tests::{encode, info_field, raise_fd_limit, wait_for, Conn, Node};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn connected_clients(c: &mut Conn) -> u64 {
    let info = c.cmd(&["INFO", "clients"]).text();
    info_field(&info, "connected_clients").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{info}"))
}

fn ping(s: &mut TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    s.write_all(b"PING\r\n").unwrap_or_else(|e| panic!("write PING: {e}"));
    let mut reply = [0u8; 7];
    s.read_exact(&mut reply).unwrap_or_else(|e| panic!("read PONG: {e}"));
    assert_eq!(&reply, b"+PONG\r\n");
}

#[test]
fn ten_thousand_idle_connections() {
    const IDLE: usize = 10_000;
    let limit = raise_fd_limit(IDLE as u64 + 500);
    assert!(limit >= IDLE as u64 + 100, "open files limit {limit} is too low for {IDLE} connections");
    // Room for the idle ones and one more; the one after that is refused.
    let node = Node::start(&["--maxclients", &(IDLE + 1).to_string()]);
    let addr = node.addr();
    let started = Instant::now();
    let mut idle: Vec<TcpStream> = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connection {i} of {IDLE}: {e}"),
        }
        // Every 100 connections, wait until the node has accepted them (it accepts in order), so that the
        // listen backlog never overflows here: bursts are `listen_backlog_absorbs_a_burst`'s subject.
        if i % 100 == 99 {
            if let Some(s) = idle.last_mut() {
                ping(s);
            }
        }
    }
    let mut c = node.conn();
    c.expect(&["PING"], b"+PONG\r\n");
    assert!(
        wait_for(Duration::from_secs(30), || connected_clients(&mut c) == IDLE as u64 + 1),
        "connected_clients {} with {IDLE} idle connections open",
        connected_clients(&mut c)
    );
    // The idle connections are all alive: a sample of them answers.
    for s in idle.iter_mut().step_by(997) {
        ping(s);
    }
    // One over maxclients: told so, then closed.
    let mut refused = node.conn();
    let (got, closed) = refused.read_until_close(Duration::from_secs(10));
    assert_eq!(slotkv_tests::show(&got), slotkv_tests::show(b"-ERR max number of clients reached\r\n"));
    assert!(closed);
    c.ok(&["SET", "still", "working"]);
    drop(idle);
    assert!(
        wait_for(Duration::from_secs(30), || connected_clients(&mut c) == 1),
        "connected_clients {} after closing the idle connections",
        connected_clients(&mut c)
    );
    node.conn().expect(&["GET", "still"], b"$7\r\nworking\r\n");
    eprintln!("10k connections test took {:?}", started.elapsed());
}

/// Redis listens with `tcp-backlog` 511 (the node's own default for the setting too), so a burst of
/// connections that arrives while the server is busy waits in the kernel instead of being dropped (a
/// dropped SYN costs the client a one-second retransmit). Here the node is stopped while 400 clients
/// connect; every handshake must complete.
#[test]
fn listen_backlog_absorbs_a_burst() {
    const BURST: usize = 400;
    let node = Node::start(&[]);
    node.conn().expect(&["CONFIG", "GET", "tcp-backlog"], b"*2\r\n$11\r\ntcp-backlog\r\n$3\r\n511\r\n");
    let addr = node.addr();
    node.pause();
    let threads: Vec<_> = (0..40)
        .map(|_| {
            std::thread::spawn(move || {
                (0..BURST / 40)
                    .map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut streams = Vec::new();
    for t in threads {
        streams.extend(t.join().unwrap_or_default());
    }
    node.resume();
    let connected = streams.iter().filter(|s| s.is_some()).count();
    // All connected ones are served once the node runs again.
    for s in streams.iter_mut().flatten().step_by(50) {
        ping(s);
    }
    assert_eq!(connected, BURST, "handshakes completed while the node was busy");
}

/// Writes most of a big pipeline of `SET a{id}:{i} {i}`, stopping inside one command, then disconnects
/// without reading a reply. Returns the index of the command that was cut.
fn write_half_a_pipeline(addr: SocketAddr, id: usize, commands: usize) -> usize {
    let mut s = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => panic!("connect: {e}"),
    };
    let mut pipeline = Vec::new();
    let mut cut_at = 0;
    let cut_command = commands / 2;
    for i in 0..commands {
        if i == cut_command {
            cut_at = pipeline.len() + 20;
        }
        pipeline.extend_from_slice(&encode(&["SET", &format!("a{id}:{i}"), &format!("{i}-value-{i}")]));
    }
    // Whatever happens to the socket (the node may reset it), just stop.
    let _ = s.write_all(&pipeline[..cut_at]);
    let _ = s.shutdown(Shutdown::Both);
    cut_command
}

#[test]
fn a_client_vanishing_mid_pipeline_disturbs_nobody() {
    let node = Node::start(&[]);
    let addr = node.addr();
    let stop = Arc::new(AtomicBool::new(false));
    // A steady client checks every reply while the others come and go.
    let checker = {
        let stop = Arc::clone(&stop);
        let mut c = node.conn();
        std::thread::spawn(move || {
            let mut expected = 0;
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) || rounds < 20 {
                let mut batch = Vec::new();
                for _ in 0..100 {
                    batch.extend_from_slice(&encode(&["INCR", "steady"]));
                }
                batch.extend_from_slice(&encode(&["SET", &format!("steady:{rounds}"), &rounds.to_string()]));
                batch.extend_from_slice(&encode(&["GET", &format!("steady:{rounds}")]));
                c.send_raw(&batch);
                for _ in 0..100 {
                    expected += 1;
                    assert_eq!(c.read_raw(), format!(":{expected}\r\n").into_bytes());
                }
                assert_eq!(c.read_raw(), b"+OK\r\n");
                let v = rounds.to_string();
                assert_eq!(c.read_raw(), format!("${}\r\n{v}\r\n", v.len()).into_bytes());
                rounds += 1;
            }
            expected
        })
    };
    let mut cuts = Vec::new();
    let vanishing: Vec<_> =
        (0..4).map(|id| std::thread::spawn(move || (id, write_half_a_pipeline(addr, id, 100_000)))).collect();
    for t in vanishing {
        match t.join() {
            Ok(r) => cuts.push(r),
            Err(_) => panic!("a vanishing client thread panicked"),
        }
    }
    // Clients that ask for big replies and leave without reading them.
    let mut c = node.conn();
    c.ok(&["SET", "big", &"b".repeat(1 << 20)]);
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect: {e}"));
        let mut pipeline = Vec::new();
        for _ in 0..50 {
            pipeline.extend_from_slice(&encode(&["GET", "big"]));
        }
        let _ = s.write_all(&pipeline);
        let _ = s.shutdown(Shutdown::Both);
    }
    stop.store(true, Ordering::Relaxed);
    let steady = match checker.join() {
        Ok(n) => n,
        Err(_) => panic!("the steady client saw a wrong reply"),
    };
    c.expect(&["GET", "steady"], format!("${}\r\n{steady}\r\n", steady.to_string().len()).as_bytes());
    // What the vanished clients managed to send is whole: every key they wrote has its full value,
    // and the command they were cut inside did not run.
    for (id, cut) in cuts {
        c.expect(&["EXISTS", &format!("a{id}:{cut}")], b":0\r\n");
        for i in (0..cut).step_by(5000) {
            match c.bulk(&["GET", &format!("a{id}:{i}")]) {
                None => {}
                Some(v) => assert_eq!(v, format!("{i}-value-{i}").into_bytes(), "a{id}:{i}"),
            }
        }
    }
    assert!(wait_for(Duration::from_secs(10), || connected_clients(&mut c) == 1));
    c.expect(&["PING"], b"+PONG\r\n");
}

#[test]
fn concurrent_clients_see_atomic_commands() {
    let node = Node::start(&[]);
    let threads = 8;
    let per_thread = 2000;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let mut c = node.conn();
            std::thread::spawn(move || {
                for round in 0..per_thread / 100 {
                    let mut batch = Vec::new();
                    for _ in 0..100 {
                        batch.extend_from_slice(&encode(&["INCR", "shared"]));
                        batch.extend_from_slice(&encode(&["HINCRBY", "h", "shared", "2"]));
                    }
                    batch.extend_from_slice(&encode(&["SET", &format!("t{t}"), &round.to_string()]));
                    c.send_raw(&batch);
                    let mut last = 0;
                    for _ in 0..100 {
                        let n = c.read_reply().int();
                        assert!(n > last, "INCR went from {last} to {n}");
                        last = n;
                        c.read_reply().int();
                    }
                    assert_eq!(c.read_raw(), b"+OK\r\n");
                }
            })
        })
        .collect();
    for w in workers {
        assert!(w.join().is_ok(), "a worker saw a wrong reply");
    }
    let mut c = node.conn();
    let total = threads * per_thread;
    c.expect(&["GET", "shared"], format!("${}\r\n{total}\r\n", total.to_string().len()).as_bytes());
    let h = (2 * total).to_string();
    c.expect(&["HGET", "h", "shared"], format!("${}\r\n{h}\r\n", h.len()).as_bytes());
    let last = (per_thread / 100 - 1).to_string();
    for t in 0..threads {
        c.expect(&["GET", &format!("t{t}")], format!("${}\r\n{last}\r\n", last.len()).as_bytes());
    }
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let node = Node::start(&["--timeout", "1"]);
    let mut idle = node.conn();
    idle.expect(&["PING"], b"+PONG\r\n");
    let mut busy = node.conn();
    let started = Instant::now();
    // The busy client keeps talking for 2.5 s and must stay connected.
    while started.elapsed() < Duration::from_millis(2500) {
        busy.expect(&["PING"], b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (got, closed) = idle.read_until_close(Duration::from_secs(5));
    assert!(closed, "an idle client outlived timeout 1");
    assert!(got.is_empty(), "{}", slotkv_tests::show(&got));
    busy.expect(&["PING"], b"+PONG\r\n");
}

/// This machine's address on its default route, if it has one that is not loopback.
fn non_loopback_ipv4() -> Option<std::net::IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // A UDP "connect" sends nothing; it only picks the route and so the local address.
    probe.connect("192.0.2.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn protected_mode_refuses_remote_clients_without_a_password() {
    let Some(ip) = non_loopback_ipv4() else {
        eprintln!("no non-loopback IPv4 address here: protected mode not tested");
        return;
    };
    let node = Node::start(&["--bind", "0.0.0.0"]);
    let mut remote = TcpStream::connect_timeout(&SocketAddr::new(ip, node.port), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect to {ip}:{}: {e}", node.port));
    let _ = remote.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = remote.write_all(b"PING\r\n");
    let mut got = Vec::new();
    let _ = remote.read_to_end(&mut got);
    let denied = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set \
for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from \
external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the \
command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server \
is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make \
this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, \
and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually \
just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the \
default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections \
from the outside.\r\n";
    assert_eq!(slotkv_tests::show(&got), slotkv_tests::show(denied.as_bytes()));
    // Loopback clients are served; so are remote ones once protected mode is off.
    let mut local = node.conn();
    local.expect(&["PING"], b"+PONG\r\n");
    local.ok(&["CONFIG", "SET", "protected-mode", "no"]);
    let mut remote = TcpStream::connect_timeout(&SocketAddr::new(ip, node.port), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect to {ip}:{}: {e}", node.port));
    ping(&mut remote);
    // With a password, remote clients are accepted (and must authenticate).
    let guarded = Node::start(&["--bind", "0.0.0.0", "--requirepass", "pw"]);
    let mut remote = TcpStream::connect_timeout(&SocketAddr::new(ip, guarded.port), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect to {ip}:{}: {e}", guarded.port));
    let _ = remote.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = remote.write_all(b"AUTH pw\r\nPING\r\n");
    let mut reply = [0u8; 12];
    remote.read_exact(&mut reply).unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(&reply, b"+OK\r\n+PONG\r\n");
}

#[test]
fn a_client_over_the_query_buffer_limit_is_closed() {
    let node = Node::start(&["--client-query-buffer-limit", "1mb"]);
    let mut c = node.conn();
    // A 2 MB argument is within proto-max-bulk-len but cannot fit in a 1 MB query buffer.
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2097152\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..24 {
        if c.stream().write_all(&chunk).is_err() {
            break;
        }
    }
    let (got, closed) = c.read_until_close(Duration::from_secs(10));
    assert!(closed, "a client with 1.5 MB of unfinished input under a 1 MB limit was not closed");
    assert!(got.is_empty(), "{}", slotkv_tests::show(&got));
    let mut other = node.conn();
    other.expect(&["EXISTS", "big"], b":0\r\n");
    // Complete commands of any size up to the limit are fine.
    other.ok(&["SET", "k", &"v".repeat(900 * 1024)]);
    other.expect(&["STRLEN", "k"], b":921600\r\n");
}
