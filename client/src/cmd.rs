//! Building a command: `cmd("SET").arg("key").arg(42)`, encoded as RESP once, sent as bytes.

/// One argument of a command, written as Redis reads it (numbers in decimal).
pub trait ToArg {
    fn write_arg(&self, out: &mut Vec<u8>);
}

impl ToArg for [u8] {
    fn write_arg(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl ToArg for str {
    fn write_arg(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl ToArg for String {
    fn write_arg(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl ToArg for Vec<u8> {
    fn write_arg(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn write_arg(&self, out: &mut Vec<u8>) {
        (**self).write_arg(out);
    }
}

macro_rules! int_args {
    ($($t:ty)*) => {$(
        impl ToArg for $t {
            fn write_arg(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(self.to_string().as_bytes());
            }
        }
    )*};
}
int_args!(i8 i16 i32 i64 isize u8 u16 u32 u64 usize);

impl ToArg for f64 {
    /// The shortest text that reads back as the same number; `inf`/`-inf` as Redis spells them.
    fn write_arg(&self, out: &mut Vec<u8>) {
        let text = if self.is_infinite() {
            if *self > 0.0 {
                "inf".to_string()
            } else {
                "-inf".to_string()
            }
        } else {
            self.to_string()
        };
        out.extend_from_slice(text.as_bytes());
    }
}

/// A command and its arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cmd {
    args: Vec<Vec<u8>>,
}

/// Starts a command: `cmd("GET").arg("k")`.
pub fn cmd(name: &str) -> Cmd {
    Cmd { args: vec![name.as_bytes().to_vec()] }
}

impl Cmd {
    pub fn arg<A: ToArg + ?Sized>(mut self, a: &A) -> Cmd {
        let mut bytes = Vec::new();
        a.write_arg(&mut bytes);
        self.args.push(bytes);
        self
    }

    /// A command from its raw arguments, the name first.
    pub fn from_args(args: Vec<Vec<u8>>) -> Cmd {
        Cmd { args }
    }

    /// The arguments, the command name first.
    pub fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    /// Appends the command in RESP (an array of bulk strings).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let refs: Vec<&[u8]> = self.args.iter().map(Vec::as_slice).collect();
        slotkv_proto::frame::encode_command(&refs, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_argument_kind() {
        let c = cmd("SET").arg("k").arg(&42i64).arg(b"v\r\n".as_slice()).arg(&1.5f64).arg(&f64::NEG_INFINITY);
        let mut out = Vec::new();
        c.encode(&mut out);
        assert_eq!(
            out,
            b"*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n42\r\n$3\r\nv\r\n\r\n$3\r\n1.5\r\n$4\r\n-inf\r\n"
        );
    }
}
