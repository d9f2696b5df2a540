//! Fuzzes `parse_frame` with the default limits and with tiny ones (so that every limit is hit).
//!
//! Beyond "never panics, never hangs, never allocates from a claimed length", it checks the parser's
//! contract: a frame parses the same from its own bytes alone; strict prefixes of it are incomplete, never
//! errors; and encoding a parsed frame gives bytes that parse back to an equal frame, consumed exactly
//! (and the RESP2 encoding parses too).

#![no_main]

use libfuzzer_sys::fuzz_target;
use slotkv_proto::{parse_frame, FrameLimits};

fn check(data: &[u8], limits: &FrameLimits) {
    let Ok(Some((frame, used))) = parse_frame(data, limits) else {
        return;
    };
    assert!(used > 0 && used <= data.len(), "consumed {used} of {}", data.len());
    let own = &data[..used];
    assert_eq!(parse_frame(own, limits), Ok(Some((frame.clone(), used))));
    for cut in prefixes(used) {
        assert_eq!(parse_frame(&own[..cut], limits), Ok(None), "cut {cut} of {used}");
    }
    // Re-encoding may change the depth or lengths (a streamed string becomes one bulk string), so read it
    // back with the defaults.
    let defaults = FrameLimits::default();
    let mut encoded = Vec::new();
    frame.encode(&mut encoded);
    assert_eq!(parse_frame(&encoded, &defaults), Ok(Some((frame.clone(), encoded.len()))));
    let mut resp2 = Vec::new();
    frame.encode_resp2(&mut resp2);
    assert!(matches!(parse_frame(&resp2, &defaults), Ok(Some((_, n))) if n == resp2.len()));
}

fn prefixes(len: usize) -> impl Iterator<Item = usize> {
    let step = (len / 32).max(1);
    (0..len).step_by(step).chain(len.saturating_sub(8)..len)
}

fuzz_target!(|data: &[u8]| {
    check(data, &FrameLimits::default());
    check(data, &FrameLimits { max_depth: 3, max_bulk_len: 16, max_aggregate_len: 4, max_line_len: 16 });
});
