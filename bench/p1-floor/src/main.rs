//! A server that does no work: it answers every command it reads with `$-1` (a null bulk), so its CPU per
//! request is what the kernel's TCP path costs and nothing else. Measured against redis-server and
//! slotkv-node by `bench/p1-floor.sh`, it bounds what any server can gain at pipeline depth 1 with the
//! same system calls (one read and one write per request), and what io_uring changes.
//!
//! Usage: `p1-floor epoll|uring PORT`. Commands are counted by the `*` that starts a multibulk line; the
//! benchmark sends whole commands, so no partial command is kept between reads.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

/// Replies for up to 64 commands of one read, ready to send without building anything.
static NULLS: [u8; 5 * 64] = {
    let mut a = [0u8; 5 * 64];
    let mut i = 0;
    while i < 64 {
        a[i * 5] = b'$';
        a[i * 5 + 1] = b'-';
        a[i * 5 + 2] = b'1';
        a[i * 5 + 3] = b'\r';
        a[i * 5 + 4] = b'\n';
        i += 1;
    }
    a
};

fn commands_in(read: &[u8]) -> usize {
    let mut n = 0;
    let mut line_start = true;
    for &c in read {
        if line_start && c == b'*' {
            n += 1;
        }
        line_start = c == b'\n';
    }
    n.min(64)
}

fn replies(n: usize) -> &'static [u8] {
    NULLS.get(..n * 5).unwrap_or_default()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(port)) = (args.next(), args.next().and_then(|p| p.parse::<u16>().ok())) else {
        eprintln!("usage: p1-floor epoll|uring PORT");
        std::process::exit(2);
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let result = match mode.as_str() {
        "epoll" => epoll(addr),
        "uring" => uring(addr),
        _ => Err(std::io::Error::other("mode must be epoll or uring")),
    };
    if let Err(e) = result {
        eprintln!("p1-floor: {e}");
        std::process::exit(1);
    }
}

/// The event loop slotkv-node and Redis have: wait, read each ready client once, then write every reply at
/// the end of the tick.
fn epoll(addr: SocketAddr) -> std::io::Result<()> {
    use mio::net::{TcpListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};
    const LISTENER: Token = Token(usize::MAX);
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut clients: Vec<Option<TcpStream>> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 16 * 1024];
    let mut ready: Vec<(usize, usize)> = Vec::new();
    loop {
        poll.poll(&mut events, None)?;
        for ev in events.iter() {
            if ev.token() == LISTENER {
                while let Ok((mut s, _)) = listener.accept() {
                    s.set_nodelay(true)?;
                    poll.registry().register(&mut s, Token(clients.len()), Interest::READABLE)?;
                    clients.push(Some(s));
                }
                continue;
            }
            let i = ev.token().0;
            let Some(Some(s)) = clients.get_mut(i) else { continue };
            match s.read(&mut buf) {
                Ok(0) => clients[i] = None,
                Ok(n) => ready.push((i, commands_in(buf.get(..n).unwrap_or_default()))),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => clients[i] = None,
            }
        }
        for (i, n) in ready.drain(..) {
            if let Some(Some(s)) = clients.get_mut(i) {
                let _ = s.write(replies(n));
            }
        }
    }
}

/// The same loop on io_uring: a multishot receive per client into provided buffers (no read system
/// call, no readiness polling), and every reply of a tick submitted with the one `io_uring_enter` that
/// also waits for the next completions.
fn uring(addr: SocketAddr) -> std::io::Result<()> {
    use io_uring::{cqueue, opcode, squeue, types, IoUring};
    use std::os::fd::AsRawFd;
    const GROUP: u16 = 7;
    const BUFS: u16 = 512;
    const BUF_LEN: usize = 4096;
    const ACCEPT: u64 = u64::MAX;
    const IGNORE: u64 = u64::MAX - 1;
    let listener = std::net::TcpListener::bind(addr)?;
    let lfd = types::Fd(listener.as_raw_fd());
    let mut ring: IoUring =
        IoUring::builder().setup_single_issuer().setup_defer_taskrun().setup_cqsize(4096).build(1024)?;
    // The buffers live as long as the ring: this function never returns while the ring is alive.
    let mut pool = vec![0u8; BUFS as usize * BUF_LEN];
    let mut next: Vec<squeue::Entry> = vec![
        opcode::ProvideBuffers::new(pool.as_mut_ptr(), BUF_LEN as i32, BUFS, GROUP, 0)
            .build()
            .user_data(IGNORE),
        opcode::AcceptMulti::new(lfd).build().user_data(ACCEPT),
    ];
    loop {
        {
            let mut sq = ring.submission();
            for e in next.drain(..) {
                // SAFETY: every entry points either into `pool` (alive for the whole loop) or at the
                // `static` replies, and the submission queue (1024) is larger than one tick's entries
                // (a few per completion, at most 4096 completions); a full queue drops the entry.
                if unsafe { sq.push(&e) }.is_err() {
                    break;
                }
            }
        }
        ring.submit_and_wait(1)?;
        let done: Vec<cqueue::Entry> = ring.completion().collect();
        let mut answers: Vec<(i32, usize)> = Vec::new();
        for c in done {
            match c.user_data() {
                IGNORE => {}
                ACCEPT => {
                    if c.result() >= 0 {
                        let fd = c.result();
                        let s = socket2_nodelay(fd);
                        if s.is_ok() {
                            next.push(
                                opcode::RecvMulti::new(types::Fd(fd), GROUP).build().user_data(fd as u64),
                            );
                        }
                    }
                    if !cqueue::more(c.flags()) {
                        next.push(opcode::AcceptMulti::new(lfd).build().user_data(ACCEPT));
                    }
                }
                fd => {
                    let fd = fd as i32;
                    let n = c.result();
                    if n <= 0 {
                        // SAFETY: `fd` came from our accept and is closed once, here, when its
                        // receive ends; no other handle to it exists.
                        unsafe { libc::close(fd) };
                        continue;
                    }
                    if let Some(bid) = cqueue::buffer_select(c.flags()) {
                        let start = bid as usize * BUF_LEN;
                        let read = pool.get(start..start + n as usize).unwrap_or_default();
                        answers.push((fd, commands_in(read)));
                        let back = pool.get_mut(start..).map_or(std::ptr::null_mut(), |b| b.as_mut_ptr());
                        next.push(
                            opcode::ProvideBuffers::new(back, BUF_LEN as i32, 1, GROUP, bid)
                                .build()
                                .user_data(IGNORE)
                                .flags(squeue::Flags::SKIP_SUCCESS),
                        );
                    }
                    if !cqueue::more(c.flags()) {
                        next.push(opcode::RecvMulti::new(types::Fd(fd), GROUP).build().user_data(fd as u64));
                    }
                }
            }
        }
        for (fd, n) in answers {
            let r = replies(n);
            next.push(
                opcode::Send::new(types::Fd(fd), r.as_ptr(), r.len() as u32)
                    .flags(libc::MSG_NOSIGNAL)
                    .build()
                    .user_data(IGNORE)
                    .flags(squeue::Flags::SKIP_SUCCESS),
            );
        }
    }
}

fn socket2_nodelay(fd: i32) -> std::io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: `fd` is a socket we just accepted; the option value is a live c_int of the size passed.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
