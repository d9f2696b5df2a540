//! Parsing client requests: RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline commands as
//! telnet and `redis-cli` piping send them (`GET k\r\n`).
//!
//! The parser never copies a multibulk argument: it records each one as a range of the read buffer, and the
//! caller turns the ranges into slices once the whole command is there. "Incomplete" (wait for more bytes,
//! with the total the command needs when that is known) is kept apart from "invalid" (a protocol error:
//! reply, then close), as mini-redis does.

use std::ops::Range;

/// Protocol limits, with Redis's defaults.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest single argument.
    pub max_bulk_len: usize,
    /// The largest number of arguments in one multibulk request.
    pub max_multibulk_len: usize,
    /// The longest inline command, and the longest `*`/`$` count line.
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
        }
    }
}

/// How far a request got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request was parsed; it took this many bytes of the buffer. A request with no arguments (an
    /// empty line, `*0`) is complete with `Args::is_empty`: callers skip it, as Redis does.
    Complete(usize),
    /// More bytes are needed: at least this many in all, counted from the start of the buffer.
    Incomplete(usize),
}

/// A protocol violation. Redis answers `-ERR Protocol error: <reason>` and closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// The arguments of one parsed request: ranges of the read buffer for multibulk requests, owned bytes for
/// inline ones (which may contain escapes that change their bytes). Reused from request to request.
#[derive(Default, Debug)]
pub struct Args {
    ranges: Vec<Range<usize>>,
    inline: Vec<Vec<u8>>,
    is_inline: bool,
}

impl Args {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        if self.is_inline {
            self.inline.len()
        } else {
            self.ranges.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the arguments as slices of `buf` (the buffer that was parsed) to `out`.
    pub fn slices<'a>(&'a self, buf: &'a [u8], out: &mut impl Extend<&'a [u8]>) {
        if self.is_inline {
            out.extend(self.inline.iter().map(|a| a.as_slice()));
        } else {
            out.extend(self.ranges.iter().map(|r| buf.get(r.clone()).unwrap_or_default()));
        }
    }

    fn clear(&mut self) {
        self.ranges.clear();
        self.inline.clear();
        self.is_inline = false;
    }
}

/// Parses one request from the start of `buf` into `args`.
pub fn parse_request(buf: &[u8], limits: &Limits, args: &mut Args) -> Result<Parsed, ProtocolError> {
    args.clear();
    match buf.first() {
        None => Ok(Parsed::Incomplete(1)),
        Some(b'*') => parse_multibulk(buf, limits, args),
        Some(_) => parse_inline(buf, limits, args),
    }
}

/// Finds the `\r\n` ending a count line starting at `from`; `Ok(None)` if it has not arrived yet.
fn count_line(
    buf: &[u8],
    from: usize,
    limit: usize,
    too_big: &'static str,
) -> Result<Option<usize>, ProtocolError> {
    let rest = buf.get(from..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\r') {
        Some(cr) if cr > limit => Err(ProtocolError(too_big)),
        Some(cr) => Ok(Some(from + cr)),
        None if rest.len() > limit => Err(ProtocolError(too_big)),
        None => Ok(None),
    }
}

/// Parses a decimal integer the way Redis's `string2ll` does: optional `-`, digits, no leading zeros,
/// no `+`, no spaces, within `i64`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 || (digits.len() > 1 && digits.first() == Some(&b'0')) {
        return None;
    }
    if neg && digits == b"0" {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = (d - b'0') as i64;
        v = if neg { v.checked_mul(10)?.checked_sub(d)? } else { v.checked_mul(10)?.checked_add(d)? };
    }
    Some(v)
}

fn parse_multibulk(buf: &[u8], limits: &Limits, args: &mut Args) -> Result<Parsed, ProtocolError> {
    let Some(cr) = count_line(buf, 1, limits.max_inline_len, "too big mbulk count string")? else {
        return Ok(Parsed::Incomplete(buf.len() + 1));
    };
    if buf.len() < cr + 2 {
        return Ok(Parsed::Incomplete(cr + 2));
    }
    let count =
        parse_i64(buf.get(1..cr).unwrap_or_default()).ok_or(ProtocolError("invalid multibulk length"))?;
    if count > i64::try_from(limits.max_multibulk_len).unwrap_or(i64::MAX) {
        return Err(ProtocolError("invalid multibulk length"));
    }
    let mut pos = cr + 2;
    if count <= 0 {
        return Ok(Parsed::Complete(pos));
    }
    // Reserve for what the buffer can plausibly hold, not for what a peer claims.
    args.ranges.reserve((count as usize).min(buf.len() / 4 + 1));
    for _ in 0..count {
        match buf.get(pos) {
            None => return Ok(Parsed::Incomplete(pos + 1)),
            Some(b'$') => {}
            Some(_) => return Err(ProtocolError(expected_dollar(buf.get(pos).copied()))),
        }
        let Some(cr) = count_line(buf, pos + 1, limits.max_inline_len, "too big bulk count string")? else {
            return Ok(Parsed::Incomplete(buf.len() + 1));
        };
        if buf.len() < cr + 2 {
            return Ok(Parsed::Incomplete(cr + 2));
        }
        let len = parse_i64(buf.get(pos + 1..cr).unwrap_or_default())
            .filter(|&l| l >= 0 && l as u64 <= limits.max_bulk_len as u64)
            .ok_or(ProtocolError("invalid bulk length"))? as usize;
        let start = cr + 2;
        let end = start + len;
        if buf.len() < end + 2 {
            return Ok(Parsed::Incomplete(end + 2));
        }
        args.ranges.push(start..end);
        pos = end + 2;
    }
    Ok(Parsed::Complete(pos))
}

/// Redis names the byte it found instead of `$`; the reasons are static strings, so only printable ASCII
/// is named and the rest reported as a generic mismatch.
fn expected_dollar(found: Option<u8>) -> &'static str {
    const NAMED: &[(u8, &str)] = &[
        (b'*', "expected '$', got '*'"),
        (b':', "expected '$', got ':'"),
        (b'+', "expected '$', got '+'"),
        (b'-', "expected '$', got '-'"),
        (b'\r', "expected '$', got '\r'"),
        (b'\n', "expected '$', got '\n'"),
        (b' ', "expected '$', got ' '"),
    ];
    match found {
        Some(b) if b.is_ascii_alphanumeric() => {
            ALNUM_MESSAGES.iter().find(|(c, _)| *c == b).map(|(_, m)| *m).unwrap_or("expected '$'")
        }
        Some(b) => NAMED.iter().find(|(c, _)| *c == b).map(|(_, m)| *m).unwrap_or("expected '$'"),
        None => "expected '$'",
    }
}

macro_rules! alnum_messages {
    ($($c:literal)*) => {
        // The literals are ASCII, so going through `u32` loses nothing (a `char as u8` cast is linted).
        const ALNUM_MESSAGES: &[(u8, &str)] = &[$(($c as u32 as u8, concat!("expected '$', got '", $c, "'")),)*];
    };
}
alnum_messages!('0' '1' '2' '3' '4' '5' '6' '7' '8' '9'
    'a' 'b' 'c' 'd' 'e' 'f' 'g' 'h' 'i' 'j' 'k' 'l' 'm' 'n' 'o' 'p' 'q' 'r' 's' 't' 'u' 'v' 'w' 'x' 'y' 'z'
    'A' 'B' 'C' 'D' 'E' 'F' 'G' 'H' 'I' 'J' 'K' 'L' 'M' 'N' 'O' 'P' 'Q' 'R' 'S' 'T' 'U' 'V' 'W' 'X' 'Y' 'Z');

fn parse_inline(buf: &[u8], limits: &Limits, args: &mut Args) -> Result<Parsed, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError("too big inline request"));
        }
        return Ok(Parsed::Incomplete(buf.len() + 1));
    };
    if nl > limits.max_inline_len {
        return Err(ProtocolError("too big inline request"));
    }
    let mut line = buf.get(..nl).unwrap_or_default();
    if let [head @ .., b'\r'] = line {
        line = head;
    }
    args.is_inline = true;
    split_args(line, &mut args.inline).ok_or(ProtocolError("unbalanced quotes in request"))?;
    Ok(Parsed::Complete(nl + 1))
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline command line into arguments with the quoting rules of Redis's `sdssplitargs`: spaces
/// separate; `"..."` understands `\n \r \t \b \a \\ \" \xHH`; `'...'` understands `\'`; a closing quote
/// must be followed by a space or the end. `None` means unbalanced quotes. Redis splits a C string, so a NUL
/// byte ends the line: what follows it is ignored, and a quote still open there is unbalanced.
pub fn split_args(line: &[u8], out: &mut Vec<Vec<u8>>) -> Option<()> {
    // Without this cut a NUL, which ends an unquoted argument but is not skipped as a separator, would
    // push empty arguments forever.
    let line = line.split(|&b| b == 0).next().unwrap_or_default();
    let mut i = 0;
    loop {
        while line.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= line.len() {
            return Some(());
        }
        let mut arg = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = line.get(i).copied();
            if in_double {
                match (c?, line.get(i + 1).copied()) {
                    (b'\\', Some(b'x'))
                        if line.get(i + 2).and_then(|&h| hex_digit(h)).is_some()
                            && line.get(i + 3).and_then(|&h| hex_digit(h)).is_some() =>
                    {
                        let hi = line.get(i + 2).and_then(|&h| hex_digit(h))?;
                        let lo = line.get(i + 3).and_then(|&h| hex_digit(h))?;
                        arg.push(hi * 16 + lo);
                        i += 3;
                    }
                    (b'\\', Some(e)) => {
                        arg.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                        i += 1;
                    }
                    (b'"', next) => {
                        if next.is_some_and(|n| !n.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    (other, _) => arg.push(other),
                }
            } else if in_single {
                match (c?, line.get(i + 1).copied()) {
                    (b'\\', Some(b'\'')) => {
                        arg.push(b'\'');
                        i += 1;
                    }
                    (b'\'', next) => {
                        if next.is_some_and(|n| !n.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    (other, _) => arg.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => arg.push(other),
                }
            }
            i += 1;
        }
        out.push(arg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        let mut args = Args::new();
        let p = parse_request(buf, &Limits::default(), &mut args)?;
        let mut out = Vec::new();
        args.slices(buf, &mut out);
        Ok((p, out.into_iter().map(|s| s.to_vec()).collect()))
    }

    #[test]
    fn multibulk_complete() {
        let (p, a) = parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nextra").unwrap();
        assert_eq!(p, Parsed::Complete(20));
        assert_eq!(a, vec![b"GET".to_vec(), b"k".to_vec()]);
    }

    #[test]
    fn multibulk_incomplete_reports_needed_length() {
        let (p, _) = parse(b"*1\r\n$100\r\nabc").unwrap();
        assert_eq!(p, Parsed::Incomplete(11 + 100 + 1));
        for cut in 0..20 {
            let full = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
            let (p, _) = parse(&full[..cut]).unwrap();
            assert!(matches!(p, Parsed::Incomplete(n) if n > cut), "cut {cut}: {p:?}");
        }
    }

    #[test]
    fn multibulk_errors_match_redis() {
        assert_eq!(parse(b"*x\r\n").unwrap_err().0, "invalid multibulk length");
        assert_eq!(parse(b"*1\r\n$-5\r\n").unwrap_err().0, "invalid bulk length");
        assert_eq!(parse(b"*1\r\nfoo\r\n").unwrap_err().0, "expected '$', got 'f'");
        let limits = Limits { max_bulk_len: 10, ..Limits::default() };
        let mut args = Args::new();
        assert_eq!(parse_request(b"*1\r\n$11\r\n", &limits, &mut args).unwrap_err().0, "invalid bulk length");
        let long = [b"*".as_slice(), &[b'1'; 70000]].concat();
        assert_eq!(parse(&long).unwrap_err().0, "too big mbulk count string");
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        let (p, a) = parse(b"*0\r\n").unwrap();
        assert_eq!(p, Parsed::Complete(4));
        assert!(a.is_empty());
        let (p, a) = parse(b"*-1\r\n").unwrap();
        assert_eq!(p, Parsed::Complete(5));
        assert!(a.is_empty());
    }

    #[test]
    fn inline_commands() {
        let (p, a) = parse(b"SET k \"a b\\x41\\n\" 'it\\'s'\r\n").unwrap();
        assert!(matches!(p, Parsed::Complete(_)));
        assert_eq!(a, vec![b"SET".to_vec(), b"k".to_vec(), b"a bA\n".to_vec(), b"it's".to_vec()]);
        let (p, a) = parse(b"PING\n").unwrap();
        assert_eq!(p, Parsed::Complete(5));
        assert_eq!(a, vec![b"PING".to_vec()]);
        assert_eq!(parse(b"\r\n").unwrap().1.len(), 0);
        assert_eq!(parse(b"SET \"k\r\n").unwrap_err().0, "unbalanced quotes in request");
        assert_eq!(parse(b"SET \"k\"x\r\n").unwrap_err().0, "unbalanced quotes in request");
        assert!(matches!(parse(b"PIN").unwrap().0, Parsed::Incomplete(_)));
        assert_eq!(parse(&vec![b'a'; 70000]).unwrap_err().0, "too big inline request");
    }

    #[test]
    fn multibulk_limit_of_usize_max_means_unlimited() {
        let limits = Limits { max_multibulk_len: usize::MAX, ..Limits::default() };
        let mut args = Args::new();
        assert_eq!(parse_request(b"*1\r\n$1\r\na\r\n", &limits, &mut args), Ok(Parsed::Complete(11)));
    }

    #[test]
    fn inline_nul_ends_the_line_as_in_redis() {
        let (p, a) = parse(b"GET k\0junk\r\n").unwrap();
        assert_eq!(p, Parsed::Complete(12));
        assert_eq!(a, vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(parse(b"\0\n").unwrap().1.len(), 0);
        assert_eq!(parse(b"SET \"k\0\"\n").unwrap_err().0, "unbalanced quotes in request");
        assert_eq!(parse(b"SET \"k\"\0x\n").unwrap().1, vec![b"SET".to_vec(), b"k".to_vec()]);
    }

    #[test]
    fn integers_like_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"+1", b" 1", b"1 ", b"01", b"-0", b"9223372036854775808", b"1.5"] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
