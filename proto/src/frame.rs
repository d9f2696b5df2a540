//! Parsing RESP2 and RESP3 replies into [`Frame`]s, and writing frames back as RESP. Clients, the router and
//! the tests read every server reply through [`parse_frame`]; the test client sends commands with
//! [`encode_command`].
//!
//! # Decisions
//! - **Nulls.** RESP2's null bulk string `$-1` and RESP3's null `_` are both [`Frame::Null`]. RESP2's null
//!   array `*-1` is kept apart as [`Frame::NullArray`], so that a test can tell `GET` on a missing key from
//!   a `BLPOP` that timed out. No other negative length is accepted (`%-1`, `=-1`... are errors, and Redis
//!   never sends them).
//! - **Errors.** Simple errors `-ERR ...` and RESP3 blob errors `!<len>` are both [`Frame::Error`].
//! - **Attributes.** A RESP3 attribute map `|` is parsed and kept: it wraps the reply it annotates in
//!   [`Frame::Attribute`]. [`Frame::data`] looks through attributes, and so do the `as_*`/`is_*` helpers.
//! - **Streamed types.** RESP3 streamed strings (`$?` then `;<len>` chunks ending with `;0`) become one
//!   [`Frame::Bulk`]; streamed arrays, sets and maps (`*?`, `~?`, `%?`, ended by `.`) become ordinary ones.
//! - **Strictness.** Lines must end with `\r\n`; a lone `\r` or `\n` is an error, as is a bulk payload not
//!   followed by `\r\n`. Lengths and counts follow Redis's `string2ll` (no `+`, no leading zeros); an
//!   integer may carry the `+` sign the RESP3 spec allows.
//!
//! # Invariants
//! - `Ok(None)` (incomplete: read more, call again with the whole buffer) is kept apart from `Err`
//!   (invalid: the stream cannot be resynchronised). Every strict prefix of a frame that parses is
//!   `Ok(None)`, never an error, and the result never depends on the bytes after the frame.
//! - Nothing is allocated from a length the peer claims: a bulk string is copied once all of it has arrived,
//!   and an aggregate's vector grows with the elements that actually arrived.
//! - The parser keeps its own stack of open aggregates (no recursion), bounded by
//!   [`FrameLimits::max_depth`]. [`Frame::encode`] and dropping a frame do recurse, so keep `max_depth` in
//!   the hundreds at most.
//! - A buffer holding an incomplete frame is parsed from its start again on the next call, like
//!   mini-redis's `Frame::check`: fine for replies, quadratic for a huge reply read in tiny pieces.

use crate::reply::format_double;
use crate::request::parse_i64;
use std::fmt;

/// A parsed RESP2 or RESP3 value.
#[derive(Clone)]
pub enum Frame {
    /// `+OK`. Never contains `\r` or `\n` (encoding replaces them with spaces).
    Simple(Vec<u8>),
    /// `-ERR message`, or a RESP3 blob error `!<len>`; starts with the error code.
    Error(Vec<u8>),
    /// `:42`.
    Integer(i64),
    /// `$<len>`, including RESP3 streamed strings.
    Bulk(Vec<u8>),
    /// RESP2 `$-1` or RESP3 `_`.
    Null,
    /// RESP2 `*-1`.
    NullArray,
    /// `*<n>`.
    Array(Vec<Frame>),
    /// RESP3 `%<n>`: key/value pairs in the order they were sent.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~<n>`.
    Set(Vec<Frame>),
    /// RESP3 `><n>`: an out-of-band message (pub/sub, invalidation).
    Push(Vec<Frame>),
    /// RESP3 `,1.5` (also `inf`, `-inf`, `nan`). Equality treats every NaN as equal to every other NaN.
    Double(f64),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `(<digits>`: an optional sign, then decimal digits, kept as sent.
    BigNumber(Vec<u8>),
    /// RESP3 `=<len>`: a three-byte format (`txt`, `mkd`) and the text.
    Verbatim { format: [u8; 3], text: Vec<u8> },
    /// RESP3 `|<n>`: attribute pairs, and the reply they annotate.
    Attribute { attrs: Vec<(Frame, Frame)>, data: Box<Frame> },
}

/// Limits a peer cannot exceed; a frame beyond them is an error, not a wait for more bytes.
#[derive(Clone, Debug)]
pub struct FrameLimits {
    /// How many aggregates (arrays, maps, sets, pushes, attributes) may nest; 0 allows scalars only.
    pub max_depth: usize,
    /// The longest bulk string, blob error or verbatim string (streamed strings count their total).
    pub max_bulk_len: usize,
    /// The most elements in one array, set or push, and the most pairs in one map or attribute.
    pub max_aggregate_len: usize,
    /// The longest line: simple strings, simple errors, numbers, and the `$`/`*` headers.
    pub max_line_len: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_depth: 64,
            max_bulk_len: 512 * 1024 * 1024,
            max_aggregate_len: i32::MAX as usize,
            max_line_len: 1024 * 1024,
        }
    }
}

/// Why a buffer does not hold valid RESP. After any of these the stream cannot be trusted any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A type byte that is neither RESP2 nor RESP3.
    UnknownType(u8),
    /// A `\r` not followed by `\n`, or a `\n` without a `\r` before it.
    BadLineEnding,
    /// A line longer than [`FrameLimits::max_line_len`].
    LineTooLong,
    /// An integer, length or count that is not a decimal `i64`, or a length below -1 (or -1 where no null
    /// exists).
    BadNumber,
    /// A `,` double that does not parse.
    BadDouble,
    /// A `#` boolean other than `t` or `f`.
    BadBoolean,
    /// A `(` big number that is not an optional sign and digits.
    BadBigNumber,
    /// A `_` null with something on its line.
    BadNull,
    /// A verbatim string shorter than 4 bytes or without `:` after its format.
    BadVerbatim,
    /// A bulk payload not followed by `\r\n`.
    BadBulkEnd,
    /// A bulk string, blob error or verbatim string longer than [`FrameLimits::max_bulk_len`].
    BulkTooLong,
    /// An aggregate longer than [`FrameLimits::max_aggregate_len`].
    AggregateTooLong,
    /// Aggregates nested deeper than [`FrameLimits::max_depth`].
    TooDeep,
    /// A streamed-string chunk that does not start with `;`.
    BadChunk,
    /// A `.` end marker outside a streamed aggregate, or after a key whose value is missing.
    UnexpectedEnd,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::UnknownType(b) => write!(f, "unknown RESP type byte {:?}", char::from(*b)),
            FrameError::BadLineEnding => f.write_str("line not terminated by CRLF"),
            FrameError::LineTooLong => f.write_str("line too long"),
            FrameError::BadNumber => f.write_str("invalid integer, length or count"),
            FrameError::BadDouble => f.write_str("invalid double"),
            FrameError::BadBoolean => f.write_str("invalid boolean"),
            FrameError::BadBigNumber => f.write_str("invalid big number"),
            FrameError::BadNull => f.write_str("invalid null"),
            FrameError::BadVerbatim => f.write_str("invalid verbatim string"),
            FrameError::BadBulkEnd => f.write_str("bulk payload not terminated by CRLF"),
            FrameError::BulkTooLong => f.write_str("bulk string too long"),
            FrameError::AggregateTooLong => f.write_str("aggregate too long"),
            FrameError::TooDeep => f.write_str("aggregates nested too deep"),
            FrameError::BadChunk => f.write_str("invalid streamed string chunk"),
            FrameError::UnexpectedEnd => f.write_str("unexpected end marker"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Parses one frame from the start of `buf`: `Ok(Some((frame, consumed)))` when a whole frame is there,
/// `Ok(None)` when more bytes are needed, `Err` when the bytes are not RESP.
pub fn parse_frame(buf: &[u8], limits: &FrameLimits) -> Result<Option<(Frame, usize)>, FrameError> {
    let mut stack: Vec<Open> = Vec::new();
    let mut pos = 0;
    loop {
        let Some((item, next)) = read_item(buf, pos, limits)? else {
            return Ok(None);
        };
        pos = next;
        let mut done = match item {
            Item::Frame(frame) => Closed::Frame(frame),
            Item::End => match stack.pop() {
                Some(open)
                    if open.remaining.is_none() && (!open.kind.pairs() || open.items.len() % 2 == 0) =>
                {
                    open.close()
                }
                _ => return Err(FrameError::UnexpectedEnd),
            },
            Item::Open(open) => {
                if stack.len() >= limits.max_depth {
                    return Err(FrameError::TooDeep);
                }
                if open.remaining != Some(0) {
                    stack.push(open);
                    continue;
                }
                open.close()
            }
        };
        // Hand the finished value to the aggregates waiting for it, closing those it completes.
        loop {
            let frame = match done {
                Closed::Frame(frame) => frame,
                Closed::Attribute(attrs) => {
                    stack.push(Open {
                        kind: Kind::AttributeData(attrs),
                        remaining: Some(1),
                        items: Vec::new(),
                    });
                    break;
                }
            };
            match stack.pop() {
                None => return Ok(Some((frame, pos))),
                Some(Open { kind: Kind::AttributeData(attrs), .. }) => {
                    done = Closed::Frame(Frame::Attribute { attrs, data: Box::new(frame) });
                }
                Some(mut open) => {
                    open.items.push(frame);
                    if open.take_one(limits)? {
                        done = open.close();
                    } else {
                        stack.push(open);
                        break;
                    }
                }
            }
        }
    }
}

/// Writes a command as clients send it: an array of bulk strings.
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    header(out, b'*', args.len());
    for arg in args {
        bulk(out, b'$', arg);
    }
}

/// At most this many elements are reserved ahead of their arrival.
const MAX_PREALLOC: usize = 1024;

/// What one type byte and its line (and payload) turned out to be.
enum Item {
    Frame(Frame),
    Open(Open),
    /// `.`: the end of a streamed aggregate.
    End,
}

/// An aggregate whose elements are still arriving.
struct Open {
    kind: Kind,
    /// Elements still expected (keys and values both count for maps and attributes); `None` for a
    /// streamed aggregate, which ends at `.`.
    remaining: Option<usize>,
    items: Vec<Frame>,
}

enum Kind {
    Array,
    Set,
    Push,
    Map,
    Attribute,
    /// An attribute map is complete and waits for the one reply it annotates.
    AttributeData(Vec<(Frame, Frame)>),
}

impl Kind {
    fn pairs(&self) -> bool {
        matches!(self, Kind::Map | Kind::Attribute)
    }
}

/// What closing an aggregate gives.
enum Closed {
    Frame(Frame),
    /// An attribute map: the next value is the reply it annotates.
    Attribute(Vec<(Frame, Frame)>),
}

impl Open {
    fn new(kind: Kind, count: Option<usize>, rest_of_buf: usize) -> Open {
        let remaining = count.map(|n| if kind.pairs() { n.saturating_mul(2) } else { n });
        // Each element takes at least 3 bytes (`_\r\n`), so the buffer bounds what can be reserved.
        let reserve = remaining.unwrap_or(0).min(rest_of_buf / 3).min(MAX_PREALLOC);
        Open { kind, remaining, items: Vec::with_capacity(reserve) }
    }

    /// Counts an element just pushed; `true` when the aggregate is complete.
    fn take_one(&mut self, limits: &FrameLimits) -> Result<bool, FrameError> {
        match &mut self.remaining {
            Some(remaining) => {
                *remaining = remaining.saturating_sub(1);
                Ok(*remaining == 0)
            }
            None => {
                let entries = if self.kind.pairs() { self.items.len() / 2 } else { self.items.len() };
                if entries > limits.max_aggregate_len {
                    return Err(FrameError::AggregateTooLong);
                }
                Ok(false)
            }
        }
    }

    fn close(self) -> Closed {
        match self.kind {
            Kind::Array => Closed::Frame(Frame::Array(self.items)),
            Kind::Set => Closed::Frame(Frame::Set(self.items)),
            Kind::Push => Closed::Frame(Frame::Push(self.items)),
            Kind::Map => Closed::Frame(Frame::Map(into_pairs(self.items))),
            Kind::Attribute => Closed::Attribute(into_pairs(self.items)),
            // Never closed here: `parse_frame` wraps the reply as soon as it arrives.
            Kind::AttributeData(attrs) => Closed::Attribute(attrs),
        }
    }
}

fn into_pairs(items: Vec<Frame>) -> Vec<(Frame, Frame)> {
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        pairs.push((key, value));
    }
    pairs
}

/// Reads the item starting at `pos`: its value and where the next one starts, or `None` if incomplete.
fn read_item(buf: &[u8], pos: usize, limits: &FrameLimits) -> Result<Option<(Item, usize)>, FrameError> {
    let Some(&ty) = buf.get(pos) else {
        return Ok(None);
    };
    if !b"+-:_,#(.$!=*~%>|".contains(&ty) {
        return Err(FrameError::UnknownType(ty));
    }
    let Some((line, next)) = read_line(buf, pos + 1, limits)? else {
        return Ok(None);
    };
    let scalar = |frame| Ok(Some((Item::Frame(frame), next)));
    match ty {
        b'+' => scalar(Frame::Simple(line.to_vec())),
        b'-' => scalar(Frame::Error(line.to_vec())),
        b':' => scalar(Frame::Integer(parse_integer(line).ok_or(FrameError::BadNumber)?)),
        b'_' if line.is_empty() => scalar(Frame::Null),
        b'_' => Err(FrameError::BadNull),
        b',' => scalar(Frame::Double(parse_double(line).ok_or(FrameError::BadDouble)?)),
        b'#' => match line {
            b"t" => scalar(Frame::Boolean(true)),
            b"f" => scalar(Frame::Boolean(false)),
            _ => Err(FrameError::BadBoolean),
        },
        b'(' => {
            let digits = match line {
                [b'-' | b'+', rest @ ..] => rest,
                _ => line,
            };
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(FrameError::BadBigNumber);
            }
            scalar(Frame::BigNumber(line.to_vec()))
        }
        b'.' if line.is_empty() => Ok(Some((Item::End, next))),
        b'.' => Err(FrameError::UnexpectedEnd),
        b'$' if line == b"?" => Ok(read_streamed_string(buf, next, limits)?
            .map(|(data, next)| (Item::Frame(Frame::Bulk(data)), next))),
        b'$' if line == b"-1" => scalar(Frame::Null),
        b'$' | b'!' | b'=' => {
            let Some((data, next)) = read_payload(buf, next, line, limits)? else {
                return Ok(None);
            };
            let frame = match ty {
                b'$' => Frame::Bulk(data.to_vec()),
                b'!' => Frame::Error(data.to_vec()),
                _ => match data {
                    [a, b, c, b':', text @ ..] => {
                        Frame::Verbatim { format: [*a, *b, *c], text: text.to_vec() }
                    }
                    _ => return Err(FrameError::BadVerbatim),
                },
            };
            Ok(Some((Item::Frame(frame), next)))
        }
        b'*' if line == b"-1" => scalar(Frame::NullArray),
        b'*' | b'~' | b'%' | b'>' | b'|' => {
            let kind = match ty {
                b'*' => Kind::Array,
                b'~' => Kind::Set,
                b'%' => Kind::Map,
                b'>' => Kind::Push,
                _ => Kind::Attribute,
            };
            let count = if line == b"?" && matches!(kind, Kind::Array | Kind::Set | Kind::Map) {
                None
            } else {
                let n = parse_length(line)?;
                if n > limits.max_aggregate_len {
                    return Err(FrameError::AggregateTooLong);
                }
                Some(n)
            };
            let rest = buf.len().saturating_sub(next);
            Ok(Some((Item::Open(Open::new(kind, count, rest)), next)))
        }
        other => Err(FrameError::UnknownType(other)),
    }
}

/// The line starting at `from` without its `\r\n`, and where the next line starts; `None` if incomplete.
fn read_line<'a>(
    buf: &'a [u8],
    from: usize,
    limits: &FrameLimits,
) -> Result<Option<(&'a [u8], usize)>, FrameError> {
    let rest = buf.get(from..).unwrap_or_default();
    let window = rest.get(..limits.max_line_len.saturating_add(1)).unwrap_or(rest);
    match window.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(end) => {
            if end > limits.max_line_len {
                return Err(FrameError::LineTooLong);
            }
            match (rest.get(end), rest.get(end + 1)) {
                (Some(b'\r'), Some(b'\n')) => Ok(Some((rest.get(..end).unwrap_or_default(), from + end + 2))),
                (Some(b'\r'), None) => Ok(None),
                _ => Err(FrameError::BadLineEnding),
            }
        }
        None if rest.len() > limits.max_line_len => Err(FrameError::LineTooLong),
        None => Ok(None),
    }
}

/// A non-negative length or count.
fn parse_length(line: &[u8]) -> Result<usize, FrameError> {
    parse_i64(line).and_then(|n| usize::try_from(n).ok()).ok_or(FrameError::BadNumber)
}

/// The payload of a `$`, `!` or `=` whose length line is `len_line`, starting at `from`, and where the next
/// item starts; `None` if incomplete.
fn read_payload<'a>(
    buf: &'a [u8],
    from: usize,
    len_line: &[u8],
    limits: &FrameLimits,
) -> Result<Option<(&'a [u8], usize)>, FrameError> {
    let len = parse_length(len_line)?;
    if len > limits.max_bulk_len {
        return Err(FrameError::BulkTooLong);
    }
    let end = from.checked_add(len).ok_or(FrameError::BulkTooLong)?;
    match (buf.get(from..end), buf.get(end), buf.get(end + 1)) {
        (Some(data), Some(b'\r'), Some(b'\n')) => Ok(Some((data, end + 2))),
        (None, _, _) | (Some(_), None, _) | (Some(_), Some(b'\r'), None) => Ok(None),
        _ => Err(FrameError::BadBulkEnd),
    }
}

/// The chunks of a streamed string (`;<len>` each, `;0` last) starting at `from`, joined.
fn read_streamed_string(
    buf: &[u8],
    mut pos: usize,
    limits: &FrameLimits,
) -> Result<Option<(Vec<u8>, usize)>, FrameError> {
    let mut data = Vec::new();
    loop {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b';') => {}
            Some(_) => return Err(FrameError::BadChunk),
        }
        let Some((len_line, next)) = read_line(buf, pos + 1, limits)? else {
            return Ok(None);
        };
        if len_line == b"0" {
            return Ok(Some((data, next)));
        }
        let room = limits.max_bulk_len.saturating_sub(data.len());
        let Some((chunk, next)) =
            read_payload(buf, next, len_line, &FrameLimits { max_bulk_len: room, ..*limits })?
        else {
            return Ok(None);
        };
        data.extend_from_slice(chunk);
        pos = next;
    }
}

/// An integer as `string2ll` reads it, with the leading `+` RESP3 allows.
fn parse_integer(line: &[u8]) -> Option<i64> {
    match line {
        [b'+', digits @ ..] if digits.first().is_some_and(u8::is_ascii_digit) => parse_i64(digits),
        _ => parse_i64(line),
    }
}

/// A double as Redis writes them (`1.5`, `1e+20`, `inf`, `-inf`, `nan`); Rust's float syntax is a superset.
fn parse_double(line: &[u8]) -> Option<f64> {
    std::str::from_utf8(line).ok()?.parse().ok()
}

/// Writes `prefix`, `line` with any `\r` or `\n` replaced by a space, and `\r\n`.
fn line(out: &mut Vec<u8>, prefix: u8, line: &[u8]) {
    out.push(prefix);
    out.extend(line.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    out.extend_from_slice(b"\r\n");
}

fn header(out: &mut Vec<u8>, prefix: u8, n: usize) {
    out.push(prefix);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, prefix: u8, data: &[u8]) {
    header(out, prefix, data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn has_line_break(data: &[u8]) -> bool {
    data.iter().any(|&b| b == b'\r' || b == b'\n')
}

impl Frame {
    /// Writes the frame as RESP that [`parse_frame`] reads back into an equal frame: RESP3 types with
    /// their RESP3 markers, [`Frame::Null`] as `_`, [`Frame::NullArray`] as `*-1`, an error holding a line
    /// break as a blob error `!`. Simple strings and big numbers cannot hold line breaks: they are written
    /// as spaces.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.write(out, false);
    }

    /// Writes the frame as Redis replies to a RESP2 connection: maps as flat arrays, sets and pushes as
    /// arrays, doubles, big numbers and verbatim text as bulk strings, booleans as `:1`/`:0`, null as `$-1`,
    /// line breaks in errors as spaces, and attributes dropped (only the reply they annotate is written).
    pub fn encode_resp2(&self, out: &mut Vec<u8>) {
        self.write(out, true);
    }

    fn write(&self, out: &mut Vec<u8>, resp2: bool) {
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            Frame::Error(e) if resp2 || !has_line_break(e) => line(out, b'-', e),
            Frame::Error(e) => bulk(out, b'!', e),
            Frame::Integer(n) => {
                out.push(b':');
                out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Frame::Bulk(data) => bulk(out, b'$', data),
            Frame::Null => out.extend_from_slice(if resp2 { b"$-1\r\n" } else { b"_\r\n" }),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Array(items) => write_items(out, b'*', items, resp2),
            Frame::Set(items) => write_items(out, if resp2 { b'*' } else { b'~' }, items, resp2),
            Frame::Push(items) => write_items(out, if resp2 { b'*' } else { b'>' }, items, resp2),
            Frame::Map(pairs) if resp2 => {
                header(out, b'*', pairs.len().saturating_mul(2));
                write_pairs(out, pairs, resp2);
            }
            Frame::Map(pairs) => {
                header(out, b'%', pairs.len());
                write_pairs(out, pairs, resp2);
            }
            Frame::Double(d) if resp2 => bulk(out, b'$', format_double(*d).as_bytes()),
            Frame::Double(d) => line(out, b',', format_double(*d).as_bytes()),
            Frame::Boolean(b) if resp2 => out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            Frame::Boolean(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(digits) if resp2 => bulk(out, b'$', digits),
            Frame::BigNumber(digits) => line(out, b'(', digits),
            Frame::Verbatim { text, .. } if resp2 => bulk(out, b'$', text),
            Frame::Verbatim { format, text } => {
                header(out, b'=', text.len().saturating_add(4));
                out.extend_from_slice(format);
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Attribute { data, .. } if resp2 => data.write(out, resp2),
            Frame::Attribute { attrs, data } => {
                header(out, b'|', attrs.len());
                write_pairs(out, attrs, resp2);
                data.write(out, resp2);
            }
        }
    }

    /// The reply itself, looking through any attributes that annotate it.
    pub fn data(&self) -> &Frame {
        let mut frame = self;
        while let Frame::Attribute { data, .. } = frame {
            frame = data;
        }
        frame
    }

    /// The bytes of a simple string, bulk string or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self.data() {
            Frame::Simple(s) | Frame::Bulk(s) | Frame::Verbatim { text: s, .. } => Some(s),
            _ => None,
        }
    }

    /// [`Frame::as_bytes`], if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.data() {
            Frame::Integer(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_double(&self) -> Option<f64> {
        match self.data() {
            Frame::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// The elements of an array, set or push.
    pub fn as_items(&self) -> Option<&[Frame]> {
        match self.data() {
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Frame, Frame)]> {
        match self.data() {
            Frame::Map(pairs) => Some(pairs),
            _ => None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self.data(), Frame::Error(_))
    }

    /// The message of an error reply, code first (`ERR ...`, `MOVED 3999 127.0.0.1:6381`).
    pub fn error_message(&self) -> Option<&[u8]> {
        match self.data() {
            Frame::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the frame is a null: `$-1`, `_` or `*-1`.
    pub fn is_null(&self) -> bool {
        matches!(self.data(), Frame::Null | Frame::NullArray)
    }

    /// A bulk string; saves `.to_vec()` in tests.
    pub fn bulk(data: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(data.as_ref().to_vec())
    }

    /// A simple string.
    pub fn simple(s: impl AsRef<[u8]>) -> Frame {
        Frame::Simple(s.as_ref().to_vec())
    }

    /// An error reply.
    pub fn error(msg: impl AsRef<[u8]>) -> Frame {
        Frame::Error(msg.as_ref().to_vec())
    }
}

fn write_items(out: &mut Vec<u8>, prefix: u8, items: &[Frame], resp2: bool) {
    header(out, prefix, items.len());
    for item in items {
        item.write(out, resp2);
    }
}

fn write_pairs(out: &mut Vec<u8>, pairs: &[(Frame, Frame)], resp2: bool) {
    for (key, value) in pairs {
        key.write(out, resp2);
        value.write(out, resp2);
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        use Frame::*;
        match (self, other) {
            (Simple(a), Simple(b)) | (Error(a), Error(b)) | (Bulk(a), Bulk(b)) => a == b,
            (BigNumber(a), BigNumber(b)) => a == b,
            (Integer(a), Integer(b)) => a == b,
            (Null, Null) | (NullArray, NullArray) => true,
            (Array(a), Array(b)) | (Set(a), Set(b)) | (Push(a), Push(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (Double(a), Double(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Boolean(a), Boolean(b)) => a == b,
            (Verbatim { format: fa, text: ta }, Verbatim { format: fb, text: tb }) => fa == fb && ta == tb,
            (Attribute { attrs: aa, data: da }, Attribute { attrs: ab, data: db }) => aa == ab && da == db,
            _ => false,
        }
    }
}

/// Byte strings print as escaped text (`Bulk(b"hello")`), so failed assertions in tests are readable.
impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Simple(s) => f.debug_tuple("Simple").field(&Bytes(s)).finish(),
            Frame::Error(e) => f.debug_tuple("Error").field(&Bytes(e)).finish(),
            Frame::Integer(n) => f.debug_tuple("Integer").field(n).finish(),
            Frame::Bulk(b) => f.debug_tuple("Bulk").field(&Bytes(b)).finish(),
            Frame::Null => f.write_str("Null"),
            Frame::NullArray => f.write_str("NullArray"),
            Frame::Array(items) => f.debug_tuple("Array").field(items).finish(),
            Frame::Map(pairs) => f.debug_tuple("Map").field(&Pairs(pairs)).finish(),
            Frame::Set(items) => f.debug_tuple("Set").field(items).finish(),
            Frame::Push(items) => f.debug_tuple("Push").field(items).finish(),
            Frame::Double(d) => f.debug_tuple("Double").field(d).finish(),
            Frame::Boolean(b) => f.debug_tuple("Boolean").field(b).finish(),
            Frame::BigNumber(n) => f.debug_tuple("BigNumber").field(&Bytes(n)).finish(),
            Frame::Verbatim { format, text } => f
                .debug_struct("Verbatim")
                .field("format", &Bytes(format))
                .field("text", &Bytes(text))
                .finish(),
            Frame::Attribute { attrs, data } => {
                f.debug_struct("Attribute").field("attrs", &Pairs(attrs)).field("data", data).finish()
            }
        }
    }
}

struct Bytes<'a>(&'a [u8]);

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

struct Pairs<'a>(&'a [(Frame, Frame)]);

impl fmt::Debug for Pairs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{parse_request, Args, Limits, Parsed};
    use proptest::prelude::*;

    fn parse(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        parse_frame(buf, &FrameLimits::default())
    }

    /// Parses a buffer holding exactly one frame.
    fn one(buf: &[u8]) -> Frame {
        match parse(buf) {
            Ok(Some((frame, used))) if used == buf.len() => frame,
            other => panic!("{:?}: {other:?}", buf.escape_ascii().to_string()),
        }
    }

    fn encoded(frame: &Frame) -> Vec<u8> {
        let mut out = Vec::new();
        frame.encode(&mut out);
        out
    }

    fn resp2(frame: &Frame) -> Vec<u8> {
        let mut out = Vec::new();
        frame.encode_resp2(&mut out);
        out
    }

    fn tiny() -> FrameLimits {
        FrameLimits { max_depth: 3, max_bulk_len: 16, max_aggregate_len: 4, max_line_len: 16 }
    }

    #[test]
    fn resp2_types() {
        assert_eq!(one(b"+OK\r\n"), Frame::simple("OK"));
        assert_eq!(one(b"-ERR no\r\n"), Frame::error("ERR no"));
        assert_eq!(one(b":-42\r\n"), Frame::Integer(-42));
        assert_eq!(one(b"$5\r\nhe\r\no\r\n"), Frame::bulk("he\r\no"));
        assert_eq!(one(b"$0\r\n\r\n"), Frame::bulk(""));
        assert_eq!(one(b"$-1\r\n"), Frame::Null);
        assert_eq!(one(b"*-1\r\n"), Frame::NullArray);
        assert_eq!(one(b"*0\r\n"), Frame::Array(vec![]));
        assert_eq!(
            one(b"*3\r\n:1\r\n*1\r\n+a\r\n$-1\r\n"),
            Frame::Array(vec![Frame::Integer(1), Frame::Array(vec![Frame::simple("a")]), Frame::Null])
        );
    }

    #[test]
    fn resp3_types() {
        assert_eq!(one(b"_\r\n"), Frame::Null);
        assert_eq!(one(b",1.5\r\n"), Frame::Double(1.5));
        assert_eq!(one(b",-inf\r\n"), Frame::Double(f64::NEG_INFINITY));
        assert_eq!(one(b",nan\r\n"), Frame::Double(f64::NAN));
        assert_eq!(one(b",1e+20\r\n"), Frame::Double(1e20));
        assert_eq!(one(b"#t\r\n"), Frame::Boolean(true));
        assert_eq!(one(b"#f\r\n"), Frame::Boolean(false));
        assert_eq!(one(b"(-123456789012345678901234567890\r\n").as_bytes(), None);
        assert_eq!(one(b"(12\r\n"), Frame::BigNumber(b"12".to_vec()));
        assert_eq!(one(b":+7\r\n"), Frame::Integer(7));
        assert_eq!(one(b"!8\r\nERR a\r\nb\r\n"), Frame::error("ERR a\r\nb"));
        assert_eq!(one(b"=8\r\ntxt:some\r\n"), Frame::Verbatim { format: *b"txt", text: b"some".to_vec() });
        assert_eq!(
            one(b"%2\r\n+a\r\n:1\r\n+b\r\n_\r\n"),
            Frame::Map(vec![(Frame::simple("a"), Frame::Integer(1)), (Frame::simple("b"), Frame::Null)])
        );
        assert_eq!(one(b"~1\r\n#t\r\n"), Frame::Set(vec![Frame::Boolean(true)]));
        assert_eq!(
            one(b">2\r\n+message\r\n$1\r\nx\r\n"),
            Frame::Push(vec![Frame::simple("message"), Frame::bulk("x")])
        );
    }

    #[test]
    fn attributes_wrap_the_reply_they_annotate() {
        let frame = one(b"|1\r\n+ttl\r\n:3\r\n*2\r\n:1\r\n|0\r\n:2\r\n");
        let inner = Frame::Attribute { attrs: vec![], data: Box::new(Frame::Integer(2)) };
        assert_eq!(
            frame,
            Frame::Attribute {
                attrs: vec![(Frame::simple("ttl"), Frame::Integer(3))],
                data: Box::new(Frame::Array(vec![Frame::Integer(1), inner])),
            }
        );
        assert_eq!(frame.as_items().map(|i| i.len()), Some(2));
        assert_eq!(frame.as_items().and_then(|i| i.get(1)).and_then(Frame::as_int), Some(2));
        assert_eq!(resp2(&frame), b"*2\r\n:1\r\n:2\r\n");
    }

    #[test]
    fn streamed_types() {
        assert_eq!(one(b"$?\r\n;4\r\nHell\r\n;3\r\no w\r\n;0\r\n"), Frame::bulk("Hello w"));
        assert_eq!(one(b"$?\r\n;0\r\n"), Frame::bulk(""));
        assert_eq!(
            one(b"*?\r\n:1\r\n*?\r\n.\r\n.\r\n"),
            Frame::Array(vec![Frame::Integer(1), Frame::Array(vec![])])
        );
        assert_eq!(
            one(b"%?\r\n+a\r\n:1\r\n.\r\n"),
            Frame::Map(vec![(Frame::simple("a"), Frame::Integer(1))])
        );
        assert_eq!(one(b"~?\r\n.\r\n"), Frame::Set(vec![]));
        assert_eq!(parse(b"%?\r\n+a\r\n.\r\n"), Err(FrameError::UnexpectedEnd));
        assert_eq!(parse(b"*1\r\n.\r\n"), Err(FrameError::UnexpectedEnd));
        assert_eq!(parse(b".\r\n"), Err(FrameError::UnexpectedEnd));
        assert_eq!(parse(b"$?\r\n:1\r\n"), Err(FrameError::BadChunk));
        assert_eq!(parse(b">?\r\n"), Err(FrameError::BadNumber));
        let limits = tiny();
        assert_eq!(parse_frame(b"$?\r\n;10\r\n0123456789\r\n;10\r\n", &limits), Err(FrameError::BulkTooLong));
        assert_eq!(
            parse_frame(b"*?\r\n_\r\n_\r\n_\r\n_\r\n_\r\n", &limits),
            Err(FrameError::AggregateTooLong)
        );
        assert_eq!(parse_frame(b"*?\r\n_\r\n_\r\n_\r\n_\r\n", &limits), Ok(None));
    }

    #[test]
    fn incomplete_is_not_invalid() {
        for cut in 0..b"*2\r\n$3\r\nabc\r\n%1\r\n+k\r\n,2.5\r\n".len() {
            assert_eq!(parse(&b"*2\r\n$3\r\nabc\r\n%1\r\n+k\r\n,2.5\r\n"[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(parse(b"$3\r\nabc\r"), Ok(None));
        assert_eq!(parse(b"+OK\r"), Ok(None));
    }

    #[test]
    fn trailing_bytes_are_left_alone() {
        assert_eq!(parse(b"+OK\r\n:1\r\n"), Ok(Some((Frame::simple("OK"), 5))));
        assert_eq!(parse(b"$1\r\na\r\ngarbage"), Ok(Some((Frame::bulk("a"), 7))));
    }

    #[test]
    fn invalid_input() {
        let cases: &[(&[u8], FrameError)] = &[
            (b"x\r\n", FrameError::UnknownType(b'x')),
            (b"x", FrameError::UnknownType(b'x')),
            (b"+OK\rx", FrameError::BadLineEnding),
            (b"+O\nK\r\n", FrameError::BadLineEnding),
            (b":1.5\r\n", FrameError::BadNumber),
            (b":01\r\n", FrameError::BadNumber),
            (b":+-1\r\n", FrameError::BadNumber),
            (b":\r\n", FrameError::BadNumber),
            (b"$-2\r\n", FrameError::BadNumber),
            (b"$+1\r\n", FrameError::BadNumber),
            (b"!-1\r\n", FrameError::BadNumber),
            (b"%-1\r\n", FrameError::BadNumber),
            (b"$1\r\nab\r\n", FrameError::BadBulkEnd),
            (b"$1\r\na\rx", FrameError::BadBulkEnd),
            (b",\r\n", FrameError::BadDouble),
            (b",1.5x\r\n", FrameError::BadDouble),
            (b"#x\r\n", FrameError::BadBoolean),
            (b"(\r\n", FrameError::BadBigNumber),
            (b"(1a\r\n", FrameError::BadBigNumber),
            (b"_x\r\n", FrameError::BadNull),
            (b"=3\r\ntxt\r\n", FrameError::BadVerbatim),
            (b"=4\r\ntxtx\r\n", FrameError::BadVerbatim),
            (b"*1\r\n\r\n", FrameError::UnknownType(b'\r')),
        ];
        for (input, error) in cases {
            assert_eq!(parse(input), Err(*error), "{}", input.escape_ascii());
        }
    }

    #[test]
    fn limits() {
        let limits = tiny();
        assert_eq!(parse_frame(b"$17\r\n", &limits), Err(FrameError::BulkTooLong));
        assert_eq!(parse_frame(b"=17\r\n", &limits), Err(FrameError::BulkTooLong));
        assert!(matches!(parse_frame(b"$16\r\n0123456789abcdef\r\n", &limits), Ok(Some(_))));
        assert_eq!(parse_frame(b"*5\r\n", &limits), Err(FrameError::AggregateTooLong));
        assert_eq!(parse_frame(b"%5\r\n", &limits), Err(FrameError::AggregateTooLong));
        assert_eq!(parse_frame(b"+01234567890123456", &limits), Err(FrameError::LineTooLong));
        assert_eq!(parse_frame(b"+01234567890123456\r\n", &limits), Err(FrameError::LineTooLong));
        assert!(matches!(parse_frame(b"+0123456789012345\r\n", &limits), Ok(Some(_))));
        assert_eq!(parse_frame(b"+0123456789012345", &limits), Ok(None));
        // A claimed length is never trusted for allocation.
        assert_eq!(parse(b"*2147483647\r\n:1\r\n"), Ok(None));
        assert_eq!(parse(b"$536870912\r\n"), Ok(None));
        assert_eq!(parse(b"$99999999999999999999\r\n"), Err(FrameError::BadNumber));
    }

    #[test]
    fn depth_is_limited_without_recursion() {
        let nested = |levels: usize| {
            let mut buf = b"*1\r\n".repeat(levels);
            buf.extend_from_slice(b":1\r\n");
            buf
        };
        assert!(matches!(parse(&nested(64)), Ok(Some(_))));
        assert_eq!(parse(&nested(65)), Err(FrameError::TooDeep));
        assert_eq!(parse(&b"*1\r\n".repeat(1_000_000)), Err(FrameError::TooDeep));
        assert_eq!(parse(&b"|1\r\n:1\r\n:1\r\n".repeat(100_000)), Err(FrameError::TooDeep));
        let scalars_only = FrameLimits { max_depth: 0, ..FrameLimits::default() };
        assert_eq!(parse_frame(b"*0\r\n", &scalars_only), Err(FrameError::TooDeep));
        assert!(matches!(parse_frame(b":1\r\n", &scalars_only), Ok(Some(_))));
        let limits = tiny();
        assert!(matches!(parse_frame(b"*1\r\n*1\r\n*0\r\n", &limits), Ok(Some(_))));
        assert_eq!(parse_frame(b"*1\r\n*1\r\n*1\r\n*0\r\n", &limits), Err(FrameError::TooDeep));
        assert_eq!(parse_frame(b"*1\r\n*1\r\n|0\r\n*0\r\n", &limits), Err(FrameError::TooDeep));
    }

    #[test]
    fn encodings() {
        let map = Frame::Map(vec![(Frame::simple("a"), Frame::Double(0.5)), (Frame::bulk("b"), Frame::Null)]);
        assert_eq!(encoded(&map), b"%2\r\n+a\r\n,0.5\r\n$1\r\nb\r\n_\r\n");
        assert_eq!(resp2(&map), b"*4\r\n+a\r\n$3\r\n0.5\r\n$1\r\nb\r\n$-1\r\n");
        let set = Frame::Set(vec![Frame::Boolean(true), Frame::BigNumber(b"-9".to_vec())]);
        assert_eq!(encoded(&set), b"~2\r\n#t\r\n(-9\r\n");
        assert_eq!(resp2(&set), b"*2\r\n:1\r\n$2\r\n-9\r\n");
        let verbatim = Frame::Verbatim { format: *b"txt", text: b"hi".to_vec() };
        assert_eq!(encoded(&verbatim), b"=6\r\ntxt:hi\r\n");
        assert_eq!(resp2(&verbatim), b"$2\r\nhi\r\n");
        assert_eq!(encoded(&Frame::error("ERR a\nb")), b"!7\r\nERR a\nb\r\n");
        assert_eq!(resp2(&Frame::error("ERR a\nb")), b"-ERR a b\r\n");
        assert_eq!(encoded(&Frame::simple("a\r\nb")), b"+a  b\r\n");
        assert_eq!(encoded(&Frame::NullArray), b"*-1\r\n");
        assert_eq!(resp2(&Frame::Push(vec![Frame::Integer(-1)])), b"*1\r\n:-1\r\n");
        let mut out = Vec::new();
        encode_command(&[b"SET", b"k", b""], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn helpers() {
        assert_eq!(Frame::simple("OK").as_str(), Some("OK"));
        assert_eq!(Frame::bulk("v").as_bytes(), Some(&b"v"[..]));
        assert_eq!(Frame::Integer(3).as_int(), Some(3));
        assert_eq!(Frame::bulk("3").as_int(), None);
        assert!(Frame::error("MOVED 1 h:1").is_error());
        assert_eq!(Frame::error("ASK 1 h:1").error_message(), Some(&b"ASK 1 h:1"[..]));
        assert!(Frame::Null.is_null() && Frame::NullArray.is_null() && !Frame::bulk("").is_null());
        assert_eq!(format!("{:?}", Frame::bulk("a\"\n")), r#"Bulk(b"a\"\n")"#);
        assert_ne!(Frame::Null, Frame::NullArray);
        assert_ne!(Frame::simple("a"), Frame::bulk("a"));
    }

    /// Valid frames of every type; errors may hold line breaks (they are then written as blob errors).
    fn arb_frame() -> impl Strategy<Value = Frame> {
        let line = proptest::collection::vec(
            any::<u8>().prop_filter("no line breaks", |b| *b != b'\r' && *b != b'\n'),
            0..12,
        );
        let bytes = proptest::collection::vec(any::<u8>(), 0..24);
        let leaf = prop_oneof![
            line.clone().prop_map(Frame::Simple),
            bytes.clone().prop_map(Frame::Error),
            any::<i64>().prop_map(Frame::Integer),
            bytes.clone().prop_map(Frame::Bulk),
            Just(Frame::Null),
            Just(Frame::NullArray),
            any::<f64>().prop_map(Frame::Double),
            any::<bool>().prop_map(Frame::Boolean),
            "-?[0-9]{1,40}".prop_map(|s| Frame::BigNumber(s.into_bytes())),
            (any::<[u8; 3]>(), bytes).prop_map(|(format, text)| Frame::Verbatim { format, text }),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let items = proptest::collection::vec(inner.clone(), 0..6);
            let pairs = proptest::collection::vec((inner.clone(), inner.clone()), 0..4);
            prop_oneof![
                items.clone().prop_map(Frame::Array),
                items.clone().prop_map(Frame::Set),
                items.prop_map(Frame::Push),
                pairs.clone().prop_map(Frame::Map),
                (pairs, inner).prop_map(|(attrs, data)| Frame::Attribute { attrs, data: Box::new(data) }),
            ]
        })
    }

    /// Frames made of RESP2 types only, without line breaks in errors: `encode_resp2` keeps them whole.
    fn arb_resp2_frame() -> impl Strategy<Value = Frame> {
        let line = proptest::collection::vec(
            any::<u8>().prop_filter("no line breaks", |b| *b != b'\r' && *b != b'\n'),
            0..12,
        );
        let leaf = prop_oneof![
            line.clone().prop_map(Frame::Simple),
            line.prop_map(Frame::Error),
            any::<i64>().prop_map(Frame::Integer),
            proptest::collection::vec(any::<u8>(), 0..24).prop_map(Frame::Bulk),
            Just(Frame::Null),
            Just(Frame::NullArray),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| proptest::collection::vec(inner, 0..6).prop_map(Frame::Array))
    }

    fn is_resp2(frame: &Frame) -> bool {
        match frame {
            Frame::Simple(_) | Frame::Error(_) | Frame::Integer(_) | Frame::Bulk(_) => true,
            Frame::Null | Frame::NullArray => true,
            Frame::Array(items) => items.iter().all(is_resp2),
            _ => false,
        }
    }

    /// Checks what must hold for any input: no panic, and a frame that parses does so from its own bytes
    /// alone, with every strict prefix incomplete.
    fn check_any_bytes(buf: &[u8], limits: &FrameLimits) -> Result<(), TestCaseError> {
        if let Ok(Some((frame, used))) = parse_frame(buf, limits) {
            prop_assert!(used > 0 && used <= buf.len());
            let own = buf.get(..used).unwrap_or_default();
            prop_assert_eq!(parse_frame(own, limits), Ok(Some((frame.clone(), used))));
            for cut in 0..used {
                prop_assert_eq!(parse_frame(own.get(..cut).unwrap_or_default(), limits), Ok(None));
            }
            let again = encoded(&frame);
            prop_assert_eq!(parse_frame(&again, &FrameLimits::default()), Ok(Some((frame, again.len()))));
        }
        Ok(())
    }

    fn check_request_bytes(buf: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
        let mut args = Args::new();
        match parse_request(buf, limits, &mut args) {
            Ok(Parsed::Complete(used)) => {
                prop_assert!(used > 0 && used <= buf.len());
                let mut slices = Vec::new();
                args.slices(buf, &mut slices);
                let first: Vec<Vec<u8>> = slices.iter().map(|s| s.to_vec()).collect();
                let own = buf.get(..used).unwrap_or_default();
                let mut again = Args::new();
                prop_assert_eq!(parse_request(own, limits, &mut again), Ok(Parsed::Complete(used)));
                let mut slices = Vec::new();
                again.slices(own, &mut slices);
                prop_assert_eq!(slices.iter().map(|s| s.to_vec()).collect::<Vec<_>>(), first);
                for cut in 0..used {
                    let needed = parse_request(own.get(..cut).unwrap_or_default(), limits, &mut again);
                    prop_assert!(
                        matches!(needed, Ok(Parsed::Incomplete(n)) if n > cut && n <= used),
                        "cut {}: {:?}",
                        cut,
                        needed
                    );
                }
            }
            Ok(Parsed::Incomplete(needed)) => prop_assert!(needed > buf.len()),
            Err(_) => {}
        }
        Ok(())
    }

    /// Bytes that look like RESP often enough to get past the first line.
    fn resp_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(&b"\r\n"[..]),
            Just(&b"*"[..]),
            Just(&b"$"[..]),
            Just(&b"%"[..]),
            Just(&b"|"[..]),
            Just(&b"~"[..]),
            Just(&b">"[..]),
            Just(&b"?"[..]),
            Just(&b";"[..]),
            Just(&b"."[..]),
            Just(&b"="[..]),
            Just(&b"!"[..]),
            Just(&b"_"[..]),
            Just(&b"-1"[..]),
            Just(&b"1"[..]),
            Just(&b"2"[..]),
            Just(&b"0"[..]),
            Just(&b"txt:"[..]),
            Just(&b"+OK"[..]),
            Just(&b" \"'\\x"[..]),
        ];
        let piece = prop_oneof![token.prop_map(|t| t.to_vec()), proptest::collection::vec(any::<u8>(), 0..3)];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn encode_then_parse_round_trips(frame in arb_frame(), garbage in proptest::collection::vec(any::<u8>(), 0..8)) {
            let buf = encoded(&frame);
            prop_assert_eq!(parse(&buf), Ok(Some((frame.clone(), buf.len()))));
            let mut longer = buf.clone();
            longer.extend_from_slice(&garbage);
            prop_assert_eq!(parse(&longer), Ok(Some((frame, buf.len()))));
        }

        #[test]
        fn every_strict_prefix_is_incomplete(frame in arb_frame()) {
            let buf = encoded(&frame);
            for cut in 0..buf.len() {
                prop_assert_eq!(parse(buf.get(..cut).unwrap_or_default()), Ok(None), "cut {}", cut);
            }
        }

        #[test]
        fn resp2_encoding_has_only_resp2_types(frame in arb_frame()) {
            let buf = resp2(&frame);
            let parsed = parse(&buf);
            prop_assert!(matches!(&parsed, Ok(Some((f, used))) if *used == buf.len() && is_resp2(f)), "{:?}", parsed);
        }

        #[test]
        fn resp2_frames_round_trip_in_resp2(frame in arb_resp2_frame()) {
            let buf = resp2(&frame);
            prop_assert_eq!(parse(&buf), Ok(Some((frame, buf.len()))));
        }

        #[test]
        fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..256)) {
            check_any_bytes(&buf, &FrameLimits::default())?;
            check_any_bytes(&buf, &tiny())?;
            check_request_bytes(&buf, &Limits::default())?;
        }

        #[test]
        fn resp_like_bytes_never_panic(buf in resp_ish_bytes()) {
            check_any_bytes(&buf, &FrameLimits::default())?;
            check_any_bytes(&buf, &tiny())?;
            check_request_bytes(&buf, &Limits::default())?;
            check_request_bytes(&buf, &Limits { max_bulk_len: 8, max_multibulk_len: 4, max_inline_len: 16 })?;
        }

        #[test]
        fn encoded_commands_parse_as_requests(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..8)) {
            let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            let mut buf = Vec::new();
            encode_command(&refs, &mut buf);
            let mut parsed = Args::new();
            prop_assert_eq!(parse_request(&buf, &Limits::default(), &mut parsed), Ok(Parsed::Complete(buf.len())));
            let mut slices = Vec::new();
            parsed.slices(&buf, &mut slices);
            prop_assert_eq!(slices, refs.clone());
            let frame = Frame::Array(args.iter().map(Frame::bulk).collect());
            prop_assert_eq!(parse(&buf), Ok(Some((frame, buf.len()))));
            check_request_bytes(&buf, &Limits::default())?;
        }
    }
}
