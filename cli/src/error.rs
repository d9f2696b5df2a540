//! What a command can end with, and the exit code each maps to: 1 for a problem found or an operation
//! that failed, 2 for bad usage (arguments, a bad `cluster.toml`).

use std::fmt;

#[derive(Debug)]
pub enum Failure {
    /// The operation failed or found problems (exit code 1).
    Problem(String),
    /// The user asked for something that cannot be done as asked (exit code 2).
    Usage(String),
}

pub type Res<T> = Result<T, Failure>;

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Problem(_) => 1,
            Failure::Usage(_) => 2,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Problem(m) | Failure::Usage(m) => f.write_str(m),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Problem(e.to_string())
    }
}

/// `Err(Failure::Problem(format!(...)))`.
#[macro_export]
macro_rules! problem {
    ($($t:tt)*) => { Err($crate::error::Failure::Problem(format!($($t)*))) };
}

/// `Err(Failure::Usage(format!(...)))`.
#[macro_export]
macro_rules! usage {
    ($($t:tt)*) => { Err($crate::error::Failure::Usage(format!($($t)*))) };
}
