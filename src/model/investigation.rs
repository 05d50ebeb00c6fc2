//! What `portscope who` (and the first half of `portscope kill`) found about one port: its
//! sockets, their holders in detail, the bind probe, the port sysctls, the verdict and the
//! advice.
//!
//! Plain data: `analyze::investigation::investigate` fills it from collected pieces, the
//! renderers lay it out. Nothing here reads the system or decides anything.

use serde::{Deserialize, Serialize};

use crate::model::PortSettings;
use crate::model::ProbeResult;
use crate::model::{OwnerDetails, PidNamespace, PortSpec, SocketEntry};

/// Linux `TCP_TIMEWAIT_LEN`: how long a TIME_WAIT socket lives, in seconds.
pub const TIME_WAIT_SECONDS: u64 = 60;

/// What `who` concludes about the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortVerdict {
    /// The socket table lists at least one socket on the port.
    InUse,
    /// The socket table lists nothing on the port, yet the bind probe failed with
    /// `EADDRINUSE`: a socket the table does not show holds it.
    InUseUnlisted,
    /// No listed socket uses the port and no probe found it in use.
    Free,
}

impl PortVerdict {
    /// True unless the port is free (exit code 0 rather than 1).
    #[must_use]
    pub fn in_use(self) -> bool {
        self != PortVerdict::Free
    }
}

/// Everything `who` found about one port.
#[derive(Debug, Clone)]
pub struct Investigation {
    /// The port asked about.
    pub spec: PortSpec,
    /// Every socket on it, in the listing's order.
    pub sockets: Vec<SocketEntry>,
    /// Their holders, by pid.
    pub owners: Vec<OwnerDetails>,
    /// Bind probe results: only the protocols the socket table showed nothing for (empty when
    /// not probed).
    pub probe: Vec<ProbeResult>,
    /// In use, in use by a socket the table does not list, or free.
    pub verdict: PortVerdict,
    /// Port sysctls.
    pub settings: PortSettings,
    /// Advice lines.
    pub advice: Vec<String>,
    /// Partial-result warnings.
    pub warnings: Vec<String>,
    /// The PID namespace the pids belong to when the proc root is not portscope's own.
    pub pid_namespace: Option<PidNamespace>,
}

impl Investigation {
    /// The PID namespace to name on stderr: only when pids of another namespace are shown.
    #[must_use]
    pub fn shown_namespace(&self) -> Option<&PidNamespace> {
        self.pid_namespace
            .as_ref()
            .filter(|_| !self.owners.is_empty())
    }
}
