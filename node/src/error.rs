//! Every error a command can answer, with Redis's exact text, written as RESP in one place
//! ([`crate::dispatch`]).

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in '{}' command";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const DENIED: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    Overflow,
    /// A fixed message, starting with its code.
    Static(&'static str),
    /// A built message, starting with its code.
    Msg(String),
}

impl CmdError {
    pub fn text(&self) -> &str {
        match self {
            CmdError::WrongType => WRONGTYPE,
            CmdError::NotInteger => NOT_INTEGER,
            CmdError::NotFloat => NOT_FLOAT,
            CmdError::Syntax => SYNTAX,
            CmdError::Overflow => OVERFLOW,
            CmdError::Static(s) => s,
            CmdError::Msg(s) => s,
        }
    }
}

impl From<crate::db::WrongType> for CmdError {
    fn from(_: crate::db::WrongType) -> Self {
        CmdError::WrongType
    }
}

/// What a command handler returns: the reply was written, or an error to write.
pub type CmdResult = Result<(), CmdError>;

/// `ERR wrong number of arguments for 'name' command`.
pub fn wrong_arity(name: &str) -> CmdError {
    CmdError::Msg(format!("ERR wrong number of arguments for '{name}' command"))
}

/// `ERR unknown subcommand 'x'. Try CONFIG HELP.`
pub fn unknown_subcommand(sub: &[u8], parent: &str) -> CmdError {
    CmdError::Msg(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        truncated(sub, 128),
        parent.to_ascii_uppercase()
    ))
}

/// Client bytes for an error message: lossy UTF-8, cut to `max` characters as Redis cuts them.
pub fn truncated(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(bytes.get(..max.min(bytes.len())).unwrap_or_default()).into_owned()
}
