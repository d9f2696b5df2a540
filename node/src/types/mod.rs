//! Commands by data type: plain functions over the keyspace that parse their arguments, do the work and
//! write the reply, returning a `CmdError` for the dispatcher to write.

pub mod dump;
pub mod hash;
pub mod keys;
pub mod list;
pub mod pack;
pub mod quicklist;
pub mod set;
pub mod skiplist;
pub mod string;
pub mod zset;

use crate::error::CmdError;
use slotkv_proto::request::parse_i64;

/// An argument that must be an integer (`ERR value is not an integer or out of range`).
pub fn int_arg(a: &[u8]) -> Result<i64, CmdError> {
    parse_i64(a).ok_or(CmdError::NotInteger)
}

/// An argument that must be a float (`ERR value is not a valid float`), as Redis's `string2ld` reads it:
/// no spaces, no NaN.
pub fn float_arg(a: &[u8]) -> Result<f64, CmdError> {
    parse_float(a).ok_or(CmdError::NotFloat)
}

pub fn parse_float(a: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(a).ok()?;
    if s.is_empty()
        || s.starts_with(|c: char| c.is_ascii_whitespace())
        || s.ends_with(|c: char| c.is_ascii_whitespace())
    {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v: f64 = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ if lower.trim_start_matches(['+', '-']).starts_with("0x") => parse_hex_float(&lower)?,
        _ if s.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) => s.parse().ok()?,
        _ => return None,
    };
    (!v.is_nan()).then_some(v)
}

/// A C99 hexadecimal float as `strtold` reads it: `[+-]0x<hex digits>[.<hex digits>][p[+-]<decimal>]`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let rest = rest.strip_prefix("0x")?;
    let (mantissa, exp) = match rest.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    Some(if neg { -v } else { v })
}

/// The timeout of a blocking command, in seconds with decimals (`0.5`), as a deadline in Unix ms: 0 for
/// none (a timeout of 0 blocks forever). Errors as Redis words them.
pub fn timeout_arg(a: &[u8], now: i64) -> Result<i64, CmdError> {
    let secs = parse_float(a).ok_or(CmdError::Static("ERR timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    // Redis converts to a 64-bit integer first, so infinities and huge values come out negative.
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    let ms = ms as i64;
    if ms == 0 {
        return Ok(0);
    }
    now.checked_add(ms).ok_or(CmdError::Static("ERR timeout is out of range"))
}

/// Case-insensitive keyword comparison.
pub fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

/// `MATCH`/`COUNT`/`TYPE` options of the `*SCAN` commands, starting at `argv[from]`.
pub struct ScanOpts<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub kind: Option<&'a [u8]>,
    pub novalues: bool,
}

pub fn scan_opts<'a>(
    argv: &[&'a [u8]],
    from: usize,
    allow_type: bool,
    allow_novalues: bool,
) -> Result<ScanOpts<'a>, CmdError> {
    let mut o = ScanOpts { pattern: None, count: 10, kind: None, novalues: false };
    let mut i = from;
    while let Some(opt) = argv.get(i) {
        let val = argv.get(i + 1);
        match (opt, val) {
            (o_, Some(v)) if is(o_, "match") => o.pattern = Some(v).filter(|p| **p != b"*").copied(),
            (o_, Some(v)) if is(o_, "count") => {
                o.count = int_arg(v)?.try_into().ok().filter(|&n: &usize| n >= 1).ok_or(CmdError::Syntax)?;
            }
            (o_, Some(v)) if allow_type && is(o_, "type") => o.kind = Some(v),
            (o_, _) if allow_novalues && is(o_, "novalues") => {
                o.novalues = true;
                i += 1;
                continue;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    Ok(o)
}

/// A `SCAN`-family cursor: an unsigned 64-bit integer (`ERR invalid cursor` otherwise).
pub fn cursor_arg(a: &[u8]) -> Result<u64, CmdError> {
    std::str::from_utf8(a)
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(CmdError::Static("ERR invalid cursor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_string2ld() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"1e3"), Some(1000.0));
        assert_eq!(parse_float(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float(b" 1"), None);
        assert_eq!(parse_float(b"nan"), None);
        assert_eq!(parse_float(b"abc"), None);
        assert_eq!(parse_float(b"0x10"), Some(16.0));
        assert_eq!(parse_float(b"0X1p4"), Some(16.0));
        assert_eq!(parse_float(b"-0x1.8p1"), Some(-3.0));
        assert_eq!(parse_float(b"0x"), None);
        assert_eq!(parse_float(b"0xg"), None);
        assert_eq!(parse_float(b""), None);
    }
}
