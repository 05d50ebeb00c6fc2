//! JSON output: typed, versioned objects (see docs/json.md). Never carries colour.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::{PidNamespace, SocketEntry};

/// Version of every JSON document portscope writes. Bumped only on incompatible changes; new
/// fields may be added within a version.
pub const SCHEMA_VERSION: u32 = 1;

/// `portscope --json`.
#[derive(Debug, Serialize)]
pub struct ListDocument<'a> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Matching sockets, in the table's order.
    pub sockets: &'a [SocketEntry],
    /// The PID namespace the pids belong to when `--proc-root` is not portscope's own; `null`
    /// when it is.
    pub pid_namespace: Option<&'a PidNamespace>,
    /// Why the result may be partial (also printed on stderr).
    pub warnings: &'a [String],
}

/// Write any serializable document followed by a newline.
///
/// # Errors
/// When writing fails (a closed pipe included).
pub fn write<T: Serialize>(out: &mut dyn Write, doc: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc).map_err(io::Error::from)?;
    out.write_all(b"\n")
}
