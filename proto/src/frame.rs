//! Parsing RESP2/RESP3 replies into frames. (Placeholder: filled in by the frame parser work.)

/// A parsed RESP2 or RESP3 value.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Simple(Vec<u8>),
}
