//! The composition `who` and `kill` share: the sockets on one port (collect → inventory) and
//! everything known about it (each holder's raw facts, the port sysctls, the bind probe when
//! asked) through `analyze::investigation::investigate`. It is not a command; both commands use
//! it so neither imports the other.
//!
//! It must not decide or render: it only gathers and composes.

use std::time::SystemTime;

use anyhow::Result;

use crate::analyze::inventory;
use crate::analyze::investigation::{self, Pieces};
use crate::commands::Env;
use crate::model::{
    Investigation, PortSpec, Request, Snapshot, SocketEntry, SocketQuery, UnixTime,
};

/// Whether the investigation tries to bind the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Try to bind the port for what the sockets do not explain (`who`).
    Bind,
    /// No probe (`who --no-probe`, `kill`): the report's `bind_probe` is empty.
    Skip,
}

/// The sockets on the port and the snapshot they come from, with the owner lookup only when
/// `owners` is true: without it the socket table alone is read (`kill` waiting for the port,
/// when the proc root may have gone with the namespace whose processes were signalled).
///
/// # Errors
/// When the socket table (or, with `owners`, the proc root) cannot be read.
pub(crate) fn sockets_on(
    env: &Env,
    spec: PortSpec,
    owners: bool,
) -> Result<(Vec<SocketEntry>, Snapshot)> {
    let request = Request {
        query: SocketQuery::port(spec),
        owners,
    };
    let snapshot = env
        .collector
        .snapshot(&request, &|s| spec.matches(s.proto, s.local_port))?;
    Ok((inventory::build(&snapshot, env.services()), snapshot))
}

/// Everything known about the port: its sockets with their owners, each holder's raw facts, the
/// port sysctls and, with [`Probe::Bind`], the bind probe; read at the clock's now.
///
/// # Errors
/// When the socket table or the proc root cannot be read.
pub(crate) fn investigate(env: &Env, spec: PortSpec, probe: Probe) -> Result<Investigation> {
    let platform = env.platform();
    let (sockets, snapshot) = sockets_on(env, spec, true)?;
    let warnings = inventory::warnings(&sockets, &snapshot);
    let now = UnixTime::from_system_time(SystemTime::now()).0;
    let (owner_raw, socket_units) = env.collector.holder_facts(
        investigation::holders(&sockets).into_keys(),
        investigation::needs_socket_units(&sockets),
    );
    let probe = match probe {
        Probe::Bind => platform.probe(spec.port, &investigation::probe_protocols(spec, &sockets)),
        Probe::Skip => Vec::new(),
    };
    Ok(investigation::investigate(Pieces {
        spec,
        sockets,
        warnings,
        owner_raw,
        socket_units,
        settings: platform.port_settings(),
        probe,
        now,
        pid_namespace: snapshot.pid_namespace,
    }))
}
