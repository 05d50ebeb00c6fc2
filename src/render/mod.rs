//! Rendering: a report and a writer in, bytes out. Colour and terminal sanitization live only
//! here; nothing in this module collects or analyses.

use std::net::IpAddr;

pub mod audit;
pub mod json;
pub mod sanitize;
pub mod table;
pub mod who;

pub use sanitize::sanitize;

/// How to render for the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Fit the table to this many columns (a terminal); `None` never truncates (pipes, files).
    pub width: Option<usize>,
}

impl Style {
    /// No colour, no width limit: what tests and pipes get.
    #[must_use]
    pub fn plain() -> Self {
        Style {
            color: false,
            width: None,
        }
    }
}

/// `127.0.0.1` or `[::1]`.
#[must_use]
pub fn addr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}
