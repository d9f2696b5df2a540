//! The retry policy: what the client does after each answer, decided in one exhaustive `match`.

use crate::error::{Error, Result};
use slotkv_proto::frame::Frame;

/// What to do after a reply.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The answer is the caller's (a value, or an error that retrying would not change).
    Done,
    /// The slot moved for good: remember the new owner, refresh the map soon, send there.
    Moved { slot: usize, addr: String },
    /// Ask the importing node this once (`ASKING` first); the map stays as it is.
    Ask { addr: String },
    /// Wait (backing off), refresh the map, and try again.
    Retry,
}

/// Every reply or error maps to exactly one step.
pub(crate) fn next_step(result: &Result<Frame>) -> Step {
    let redirect = |message: &str| {
        let mut parts = message.split(' ').skip(1);
        let slot = parts.next().and_then(|s| s.parse::<usize>().ok());
        let addr = parts.next().filter(|a| a.contains(':')).map(str::to_string);
        slot.zip(addr)
    };
    match result {
        Ok(_) => Step::Done,
        Err(Error::Server { code, message }) => match code.as_str() {
            "MOVED" => redirect(message).map_or(Step::Done, |(slot, addr)| Step::Moved { slot, addr }),
            "ASK" => redirect(message).map_or(Step::Done, |(_, addr)| Step::Ask { addr }),
            // A slot in the middle of a move, a cluster still converging, a node still loading its data:
            // each goes away by itself.
            "TRYAGAIN" | "CLUSTERDOWN" | "LOADING" => Step::Retry,
            _ => Step::Done,
        },
        // The connection failed (or none could be made): the node may be restarting or gone; the map
        // says where its slots went.
        Err(Error::Io(_)) => Step::Retry,
        // The deadline passed: retrying would only break it further.
        Err(Error::Timeout(_)) => Step::Done,
        Err(Error::Protocol(_) | Error::Type { .. }) => Step::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> Result<Frame> {
        Err(Error::server(text.as_bytes()))
    }

    #[test]
    fn one_step_for_every_answer() {
        assert_eq!(next_step(&Ok(Frame::Null)), Step::Done);
        assert_eq!(
            next_step(&err("MOVED 3999 127.0.0.1:7001")),
            Step::Moved { slot: 3999, addr: "127.0.0.1:7001".into() }
        );
        assert_eq!(next_step(&err("ASK 3999 127.0.0.1:7002")), Step::Ask { addr: "127.0.0.1:7002".into() });
        assert_eq!(next_step(&err("TRYAGAIN Multiple keys request during rehashing of slot")), Step::Retry);
        assert_eq!(next_step(&err("CLUSTERDOWN The cluster is down")), Step::Retry);
        assert_eq!(next_step(&err("LOADING Redis is loading the dataset in memory")), Step::Retry);
        assert_eq!(next_step(&Err(Error::Io("reset".into()))), Step::Retry);
        assert_eq!(next_step(&Err(Error::Timeout("GET".into()))), Step::Done);
        assert_eq!(next_step(&err("WRONGTYPE Operation against a key")), Step::Done);
        assert_eq!(next_step(&err("MOVED garbage")), Step::Done);
        assert_eq!(next_step(&err("MOVED 12 noport")), Step::Done);
    }
}
