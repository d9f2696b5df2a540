//! Multi-key commands whose keys span slots (`MGET`, `MSET`, `DEL`, `UNLINK`, `EXISTS`, `TOUCH`): split into
//! one command per slot, and their replies merged back, as the command table's merge flags say.

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::reply::FromReply;
use slotkv_proto::frame::Frame;
use slotkv_proto::slot::key_slot;

/// How the replies of a split command combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Merge {
    /// Integers added up (`DEL`, `EXISTS`).
    Sum,
    /// `OK` once every part said `OK` (`MSET`).
    AllOk,
    /// Values put back in key order (`MGET`).
    Keys,
}

/// One slot's share of a split command: the command, and the positions (in key order) of its keys.
pub(crate) struct Part {
    pub(crate) cmd: Cmd,
    pub(crate) positions: Vec<usize>,
}

/// Splits a multi-key command whose keys span slots, when the command table says it may be; `None`
/// otherwise (one slot, or a command that must stay atomic such as `MSETNX`).
pub(crate) fn split(c: &Cmd) -> Option<(Merge, Vec<Part>)> {
    use slotkv_proto::command::flags;
    let args = c.args();
    let spec = slotkv_proto::lookup(args.first()?)?;
    let merge = if spec.has(flags::MERGE_SUM) {
        Merge::Sum
    } else if spec.has(flags::MERGE_ALL_OK) {
        Merge::AllOk
    } else if spec.has(flags::MERGE_KEYS) {
        Merge::Keys
    } else {
        return None;
    };
    let step = usize::try_from(spec.step).ok().filter(|&s| s > 0)?;
    let first = usize::try_from(spec.first_key).ok().filter(|&f| f > 0)?;
    let mut groups: Vec<(u16, Part)> = Vec::new();
    for (n, i) in (first..args.len()).step_by(step).enumerate() {
        let key = args.get(i)?;
        let slot = key_slot(key);
        let at = match groups.iter().position(|(s, _)| *s == slot) {
            Some(at) => at,
            None => {
                groups.push((
                    slot,
                    Part { cmd: Cmd::from_args(vec![args.first()?.clone()]), positions: Vec::new() },
                ));
                groups.len() - 1
            }
        };
        let (_, part) = groups.get_mut(at)?;
        for a in args.get(i..i + step)? {
            part.cmd = std::mem::take(&mut part.cmd).arg(a.as_slice());
        }
        part.positions.push(n);
    }
    (groups.len() > 1).then(|| (merge, groups.into_iter().map(|(_, p)| p).collect()))
}

/// The parts' replies (with their key positions) merged into the reply of the whole command.
pub(crate) fn merge(how: Merge, results: Vec<(Vec<usize>, Result<Frame>)>) -> Result<Frame> {
    match how {
        Merge::Sum => {
            let mut total = 0;
            for (_, r) in results {
                total += i64::from_reply(r?)?;
            }
            Ok(Frame::Integer(total))
        }
        Merge::AllOk => {
            for (_, r) in results {
                r?;
            }
            Ok(Frame::Simple(b"OK".to_vec()))
        }
        Merge::Keys => {
            let total: usize = results.iter().map(|(p, _)| p.len()).sum();
            let mut out = vec![Frame::Null; total];
            for (positions, r) in results {
                let Frame::Array(values) = r? else {
                    return Err(Error::Protocol("a split MGET part did not answer an array".into()));
                };
                for (pos, v) in positions.into_iter().zip(values) {
                    if let Some(slot) = out.get_mut(pos) {
                        *slot = v;
                    }
                }
            }
            Ok(Frame::Array(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    #[test]
    fn multi_key_commands_split_by_slot() {
        let (merge, parts) =
            split(&cmd("MSET").arg("a").arg("1").arg("b").arg("2").arg("{a}x").arg("3")).unwrap();
        assert_eq!(merge, Merge::AllOk);
        assert_eq!(parts.len(), 2);
        let a = parts.iter().find(|p| p.positions == [0, 2]).unwrap();
        assert_eq!(a.cmd, cmd("MSET").arg("a").arg("1").arg("{a}x").arg("3"));
        assert!(split(&cmd("MGET").arg("{t}1").arg("{t}2")).is_none(), "one slot: not split");
        assert!(split(&cmd("MSETNX").arg("a").arg("1").arg("b").arg("2")).is_none(), "atomic: never split");
        assert_eq!(split(&cmd("DEL").arg("a").arg("b")).map(|(m, p)| (m, p.len())), Some((Merge::Sum, 2)));
    }

    #[test]
    fn replies_merge_in_key_order() {
        let got = merge(
            Merge::Keys,
            vec![
                (vec![1], Ok(Frame::Array(vec![Frame::Bulk(b"b".to_vec())]))),
                (vec![0, 2], Ok(Frame::Array(vec![Frame::Bulk(b"a".to_vec()), Frame::Null]))),
            ],
        );
        assert_eq!(
            got,
            Ok(Frame::Array(vec![Frame::Bulk(b"a".to_vec()), Frame::Bulk(b"b".to_vec()), Frame::Null]))
        );
        let sum = merge(Merge::Sum, vec![(vec![0], Ok(Frame::Integer(1))), (vec![1], Ok(Frame::Integer(1)))]);
        assert_eq!(sum, Ok(Frame::Integer(2)));
        let failed = merge(Merge::AllOk, vec![(vec![0], Err(Error::Io("gone".into())))]);
        assert!(failed.is_err(), "one failed part fails the whole command");
    }
}
