//! Writing replies in RESP2 or RESP3 into a reusable buffer. Callers describe the reply's shape (a map, a
//! double, a null) once; the writer picks the encoding the connection negotiated with `HELLO`.

use std::io::Write;

/// A reply buffer and the protocol version of the connection it goes to.
#[derive(Default, Debug)]
pub struct Out {
    pub buf: Vec<u8>,
    pub resp3: bool,
}

impl Out {
    pub fn new(resp3: bool) -> Self {
        Out { buf: Vec::new(), resp3 }
    }

    fn line(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        self.buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string; `s` must not contain `\r` or `\n`.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply: `msg` starts with its code (`ERR ...`, `WRONGTYPE ...`). Line breaks in it are
    /// replaced by spaces so that a message can never break the protocol.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        self.buf.extend(msg.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.line(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_int(&mut self, n: i64) {
        self.bulk(itoa::Buffer::new().format(n).as_bytes());
    }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.buf.extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A missing aggregate: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.buf.extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    pub fn array(&mut self, len: usize) {
        self.line(b'*', len as i64);
    }

    /// A map of `len` pairs: `%` in RESP3, a flat array of `2 * len` in RESP2.
    pub fn map(&mut self, len: usize) {
        if self.resp3 {
            self.line(b'%', len as i64);
        } else {
            self.line(b'*', 2 * len as i64);
        }
    }

    /// A set: `~` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        self.line(if self.resp3 { b'~' } else { b'*' }, len as i64);
    }

    /// An out-of-band push (pub/sub): `>` in RESP3, an array in RESP2.
    pub fn push(&mut self, len: usize) {
        self.line(if self.resp3 { b'>' } else { b'*' }, len as i64);
    }

    /// A double: `,` in RESP3, a bulk string in RESP2, formatted as Redis formats doubles.
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Verbatim text (`INFO`, `CLIENT LIST`): `=` with a `txt:` format in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.line(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    pub fn bulks<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.array(items.len());
        for item in items {
            self.bulk(item);
        }
    }

    /// Appends raw, already encoded bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

/// Formats a double as Redis 7.2 replies with it: the shortest representation that reads back the same,
/// `%.17g` style (exponent below 1e-4 and from 1e17 on), and `inf`/`-inf`/`nan`.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{d:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-5..17).contains(&exp) {
        let mut s = String::with_capacity(24);
        let _ =
            write!(StringWriter(&mut s), "{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
        s
    } else {
        format!("{d}")
    }
}

/// Formats the result of `INCRBYFLOAT`/`HINCRBYFLOAT` as Redis does (`%.17Lf` on a long double, trailing
/// zeros dropped): plain decimal notation, no exponent. We compute in `f64`, so we round to 15 significant
/// digits, which hides the binary noise (`0.1 + 0.2` prints `0.3`) as Redis's extra precision does.
pub fn format_human_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let magnitude = if d == 0.0 { 0 } else { d.abs().log10().floor() as i32 };
    let decimals = (14 - magnitude).clamp(0, 17) as usize;
    let mut s = format!("{d:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

struct StringWriter<'a>(&'a mut String);

impl Write for StringWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push_str(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_in_both_protocols() {
        let mut o2 = Out::new(false);
        let mut o3 = Out::new(true);
        for o in [&mut o2, &mut o3] {
            o.map(1);
            o.bulk(b"a");
            o.double(1.5);
            o.null();
            o.boolean(true);
        }
        assert_eq!(o2.buf, b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n$-1\r\n:1\r\n");
        assert_eq!(o3.buf, b"%1\r\n$1\r\na\r\n,1.5\r\n_\r\n#t\r\n");
    }

    #[test]
    fn errors_cannot_break_lines() {
        let mut o = Out::new(false);
        o.error("ERR bad\r\nthing");
        assert_eq!(o.buf, b"-ERR bad  thing\r\n");
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.5e-07");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(123456.789), "123456.789");
    }

    #[test]
    fn human_doubles_like_incrbyfloat() {
        assert_eq!(format_human_double(10.5 + 0.1), "10.6");
        assert_eq!(format_human_double(0.1 + 0.2), "0.3");
        assert_eq!(format_human_double(5000.0), "5000");
        assert_eq!(format_human_double(-1.25), "-1.25");
        assert_eq!(format_human_double(1e20), "100000000000000000000");
        assert_eq!(format_human_double(0.0), "0");
    }
}
