//! One error type for the whole core. The bindings map each variant to one Python
//! exception class (ValueError, TypeError, IndexError, RuntimeError, MemoryError).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Shapes that do not fit together, or a bad argument value -> ValueError.
    Value(String),
    /// A dtype that an operation cannot take -> TypeError.
    Type(String),
    /// An index or axis out of range -> IndexError.
    Index(String),
    /// An allocation that failed or could never succeed -> MemoryError.
    OutOfMemory(String),
    /// Device problems and misuse of state (read-only memory, ...) -> RuntimeError.
    Runtime(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            Error::Value(m) | Error::Type(m) | Error::Index(m) | Error::OutOfMemory(m) | Error::Runtime(m) => m,
        };
        f.write_str(msg)
    }
}

impl std::error::Error for Error {}

/// `bail!(Value, "shape {:?} ...", s)` returns early with the given error variant.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::core::Error::$kind(format!($($arg)*)))
    };
}
