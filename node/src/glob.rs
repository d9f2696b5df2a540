//! Glob-style matching as Redis does it for `KEYS`, `SCAN MATCH`, `CONFIG GET` and (later) pub/sub
//! patterns: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\` to escape.

/// Whether `text` matches `pattern`; `nocase` folds ASCII case.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    matches(pattern, text, nocase)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Matches one non-`*` token at the start of `p` against `ch`: whether it matched and the token's length.
fn token(p: &[u8], ch: u8, nocase: bool) -> (bool, usize) {
    match p {
        [b'?', ..] => (true, 1),
        [b'\\', e, ..] => (eq(*e, ch, nocase), 2),
        [b'[', rest @ ..] => {
            let mut q = rest;
            let negate = q.first() == Some(&b'^');
            if negate {
                q = &q[1..];
            }
            let mut hit = false;
            loop {
                match q {
                    [] => break,
                    [b']', rest @ ..] => {
                        q = rest;
                        break;
                    }
                    [b'\\', e, rest @ ..] => {
                        hit |= eq(*e, ch, nocase);
                        q = rest;
                    }
                    // As in Redis, `-` takes the next byte as the range's end even when it is `]`.
                    [a, b'-', z, rest @ ..] => {
                        let (lo, hi) = if a <= z { (*a, *z) } else { (*z, *a) };
                        let fold = |x: u8| if nocase { x.to_ascii_lowercase() } else { x };
                        hit |= fold(ch) >= fold(lo) && fold(ch) <= fold(hi);
                        q = rest;
                    }
                    [x, rest @ ..] => {
                        hit |= eq(*x, ch, nocase);
                        q = rest;
                    }
                }
            }
            (hit != negate, p.len() - q.len())
        }
        [c, ..] => (eq(*c, ch, nocase), 1),
        [] => (false, 0),
    }
}

/// Every token but `*` matches exactly one byte, so the classic two-pointer match with one backtrack point
/// (the last `*`) is exact and takes O(pattern x text) time even for hostile patterns.
fn matches(p: &[u8], s: &[u8], nocase: bool) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let rest = p.get(pi..).unwrap_or_default();
        if rest.first() == Some(&b'*') {
            pi += 1;
            star = Some((pi, si));
            continue;
        }
        let ch = s.get(si).copied().unwrap_or(0);
        let (ok, len) = token(rest, ch, nocase);
        if ok && len > 0 {
            pi += len;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;

    #[test]
    fn redis_glob_cases() {
        assert!(m(b"*", b"anything", false));
        assert!(m(b"h?llo", b"hello", false));
        assert!(m(b"h*llo", b"heeeello", false));
        assert!(m(b"h[ae]llo", b"hallo", false));
        assert!(!m(b"h[ae]llo", b"hillo", false));
        assert!(m(b"h[^e]llo", b"hallo", false));
        assert!(!m(b"h[^e]llo", b"hello", false));
        assert!(m(b"h[a-b]llo", b"hbllo", false));
        assert!(m(b"h\\*llo", b"h*llo", false));
        assert!(!m(b"h\\*llo", b"hello", false));
        assert!(m(b"MAX*", b"maxmemory", true));
        assert!(!m(b"a", b"", false));
        assert!(m(b"", b"", false));
        // `[a-]` is a range from `a` to `]` that swallows the rest, as Redis reads it.
        assert!(!m(b"[a-]*", b"a\\", false));
        assert!(m(b"[a-]*", b"a", false));
        assert!(m(b"[a-]", b"_", false));
        assert!(!m(b"[a-]", b"b", false));
        assert!(!m(b"*a*a*a*a*a*a*a*a*a*a*a*b", &[b'a'; 40], false));
    }
}
