//! Small readers of raw replies (the bytes a node sent): is it an error, a redirect, an integer; the
//! elements of an aggregate. The router passes replies through unchanged and only looks inside the few it
//! merges (split `MGET`, fan-out `KEYS`/`DBSIZE`/`SCAN`) or watches (pub/sub confirmations).

use slotkv_client::raw::frame_len;

/// An error reply the cluster client must handle (follow, wait and retry) instead of the client.
pub fn is_redirect(reply: &[u8]) -> bool {
    reply.first() == Some(&b'-')
        && [b"-MOVED ".as_slice(), b"-ASK ", b"-TRYAGAIN ", b"-CLUSTERDOWN ", b"-LOADING "]
            .iter()
            .any(|p| reply.starts_with(p))
}

pub fn is_error(reply: &[u8]) -> bool {
    matches!(reply.first(), Some(b'-') | Some(b'!'))
}

/// The text of a one-line reply (`+OK`, `:12`, `-ERR x`), without its type byte and CRLF.
pub fn line(reply: &[u8]) -> &[u8] {
    reply.get(1..reply.len().saturating_sub(2)).unwrap_or_default()
}

/// An integer reply's value.
pub fn int(reply: &[u8]) -> Option<i64> {
    if reply.first() != Some(&b':') {
        return None;
    }
    std::str::from_utf8(line(reply)).ok()?.parse().ok()
}

/// A bulk (or simple) string reply's bytes; `None` for a null or anything else.
pub fn bulk(reply: &[u8]) -> Option<&[u8]> {
    match reply.first()? {
        b'+' => Some(line(reply)),
        b'$' => {
            let nl = reply.iter().position(|&b| b == b'\n')?;
            let len: usize = std::str::from_utf8(reply.get(1..nl.checked_sub(1)?)?).ok()?.parse().ok()?;
            reply.get(nl + 1..nl + 1 + len)
        }
        _ => None,
    }
}

/// Whether the reply is a null (`$-1`, `*-1`, `_`).
pub fn is_null(reply: &[u8]) -> bool {
    matches!(reply, b"$-1\r\n" | b"*-1\r\n" | b"_\r\n")
}

/// The elements of an array, set or push reply (each as its raw bytes); `None` if it is not one.
pub fn items(reply: &[u8]) -> Option<Vec<&[u8]>> {
    if !matches!(reply.first()?, b'*' | b'~' | b'>') {
        return None;
    }
    let nl = reply.iter().position(|&b| b == b'\n')?;
    let count: usize = std::str::from_utf8(reply.get(1..nl.checked_sub(1)?)?).ok()?.parse().ok()?;
    let mut out = Vec::with_capacity(count.min(1 << 16));
    let mut pos = nl + 1;
    for _ in 0..count {
        let rest = reply.get(pos..)?;
        let len = frame_len(rest).ok()??;
        out.push(rest.get(..len)?);
        pos += len;
    }
    Some(out)
}

/// Appends an aggregate header (`*3\r\n`).
pub fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

pub fn write_int(out: &mut Vec<u8>, n: i64) {
    out.push(b':');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

pub fn write_bulk(out: &mut Vec<u8>, data: &[u8]) {
    header(out, b'$', data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// An error reply; line breaks in `msg` become spaces so that it can never break the protocol.
pub fn write_error(out: &mut Vec<u8>, msg: &str) {
    out.push(b'-');
    out.extend(msg.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_raw_replies() {
        assert!(is_redirect(b"-MOVED 1 127.0.0.1:7000\r\n"));
        assert!(is_redirect(b"-ASK 1 127.0.0.1:7000\r\n"));
        assert!(!is_redirect(b"-ERR MOVED\r\n"));
        assert_eq!(int(b":-42\r\n"), Some(-42));
        assert_eq!(int(b"+OK\r\n"), None);
        assert_eq!(bulk(b"$3\r\nabc\r\n"), Some(b"abc".as_slice()));
        assert_eq!(bulk(b"$-1\r\n"), None);
        assert_eq!(bulk(b"+PONG\r\n"), Some(b"PONG".as_slice()));
        let r = b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n$-1\r\n";
        assert_eq!(items(r).unwrap(), vec![b"$1\r\na\r\n".as_slice(), b"*2\r\n:1\r\n:2\r\n", b"$-1\r\n"]);
        assert_eq!(items(b">1\r\n+x\r\n").unwrap().len(), 1);
        assert!(items(b"*2\r\n:1\r\n").is_none(), "truncated");
        assert!(items(b":1\r\n").is_none());
    }
}
