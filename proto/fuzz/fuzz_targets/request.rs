//! Fuzzes `parse_request` with Redis's default limits and with tiny ones (so that every limit is hit).
//!
//! Beyond "never panics, never hangs, never allocates from a claimed length", it checks the parser's
//! contract: a complete request parses the same from its own bytes alone; every strict prefix of it is
//! incomplete with a needed length past the prefix and not past the request; an incomplete answer always
//! asks for more than the buffer holds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slotkv_proto::{parse_request, Args, Limits, Parsed};

fn check(data: &[u8], limits: &Limits) {
    let mut args = Args::new();
    match parse_request(data, limits, &mut args) {
        Ok(Parsed::Complete(used)) => {
            assert!(used > 0 && used <= data.len(), "consumed {used} of {}", data.len());
            let mut slices = Vec::new();
            args.slices(data, &mut slices);
            let first: Vec<Vec<u8>> = slices.iter().map(|s| s.to_vec()).collect();
            let own = &data[..used];
            let mut again = Args::new();
            assert_eq!(parse_request(own, limits, &mut again), Ok(Parsed::Complete(used)));
            let mut slices = Vec::new();
            again.slices(own, &mut slices);
            assert_eq!(slices.iter().map(|s| s.to_vec()).collect::<Vec<_>>(), first);
            // Every prefix would be quadratic on big inputs; the last few bytes and a spread are enough.
            for cut in prefixes(used) {
                match parse_request(&own[..cut], limits, &mut again) {
                    Ok(Parsed::Incomplete(needed)) => {
                        assert!(
                            needed > cut && needed <= used,
                            "cut {cut}: needs {needed}, request is {used}"
                        )
                    }
                    other => panic!("cut {cut} of {used}: {other:?}"),
                }
            }
        }
        Ok(Parsed::Incomplete(needed)) => assert!(needed > data.len()),
        Err(_) => {}
    }
}

fn prefixes(len: usize) -> impl Iterator<Item = usize> {
    let step = (len / 32).max(1);
    (0..len).step_by(step).chain(len.saturating_sub(8)..len)
}

fuzz_target!(|data: &[u8]| {
    check(data, &Limits::default());
    check(data, &Limits { max_bulk_len: 8, max_multibulk_len: 4, max_inline_len: 16 });
});
