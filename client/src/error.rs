//! What can go wrong, as one enum the caller can match on.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The connection failed or was closed (the message says how).
    Io(String),
    /// The server sent something that is not RESP (the connection is closed after it).
    Protocol(String),
    /// An error reply: its code (`ERR`, `WRONGTYPE`, `MOVED`...) and the whole text.
    Server { code: String, message: String },
    /// The reply does not convert to the type asked for.
    Type { expected: &'static str, got: String },
    /// No reply within the client's timeout (the message says what was waited for).
    Timeout(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error reply's text (`ERR unknown command`), split into its code and message.
    pub fn server(text: &[u8]) -> Error {
        let message = String::from_utf8_lossy(text).into_owned();
        let code = message.split(' ').next().unwrap_or_default().to_string();
        Error::Server { code, message }
    }

    /// The error code of a server error (`MOVED`, `ASK`, `TRYAGAIN`...).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(m) => write!(f, "connection error: {m}"),
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::Server { message, .. } => write!(f, "{message}"),
            Error::Type { expected, got } => write!(f, "expected {expected}, got {got}"),
            Error::Timeout(m) => write!(f, "timed out: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}
