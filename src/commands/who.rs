//! `portscope who PORT[/tcp|/udp]`: every socket on one local port in any state, its owners in
//! detail, a bind probe and advice. Composes collect → analyze → render; the investigation is
//! shared with `portscope kill`.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

use crate::analyze::inventory;
use crate::analyze::investigation::{self as who, AdviceInput, OwnerDetails, Verdict};
use crate::cli::WhoArgs;
use crate::collect::probe::{self, ProbeResult};
use crate::collect::who::{PortSettings, owner_raw, port_settings, socket_units};
use crate::collect::{self, Request, SocketQuery};
use crate::commands::list::load_services;
use crate::commands::{Env, Outcome, print_pid_namespace, print_warnings};
use crate::model::PortSpec;
use crate::model::{PidNamespace, Proto, SocketEntry};
use crate::render::investigation::{WhoDocument, write_report};

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
    pub verdict: Verdict,
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
    /// The JSON document of this investigation.
    #[must_use]
    pub fn document(&self) -> WhoDocument<'_> {
        let mut doc = WhoDocument::new(
            self.spec,
            self.verdict,
            &self.sockets,
            &self.owners,
            &self.probe,
            &self.settings,
            &self.advice,
            &self.warnings,
        );
        doc.pid_namespace = self.pid_namespace.as_ref();
        doc
    }

    /// The PID namespace to name on stderr: only when pids of another namespace are shown.
    #[must_use]
    pub fn shown_namespace(&self) -> Option<&PidNamespace> {
        self.pid_namespace
            .as_ref()
            .filter(|_| !self.owners.is_empty())
    }
}

/// The sockets on the port, with owners, through the listing's collector (all states).
///
/// # Errors
/// When the socket table cannot be read.
pub fn sockets_on(
    spec: PortSpec,
    proc_root: &Path,
) -> Result<(Vec<SocketEntry>, collect::Snapshot)> {
    sockets_on_with(spec, proc_root, true)
}

/// [`sockets_on`], with the owner lookup only when `owners` is true: without it the socket
/// table alone is read (`kill` waiting for the port, when the proc root may have gone with the
/// namespace whose processes it signalled).
///
/// # Errors
/// When the socket table cannot be read.
pub fn sockets_on_with(
    spec: PortSpec,
    proc_root: &Path,
    owners: bool,
) -> Result<(Vec<SocketEntry>, collect::Snapshot)> {
    let mut query = SocketQuery::all();
    // The kernel skips every other port (sock_diag bytecode, as `ss 'sport = :P'`).
    query.local_ports = Some((spec.port, spec.port));
    match spec.proto {
        Some(Proto::Tcp) => query.udp_states = 0,
        Some(Proto::Udp) => query.tcp_states = 0,
        None => {}
    }
    let request = Request {
        query,
        owners,
        proc_root: proc_root.to_path_buf(),
    };
    let snapshot = collect::snapshot(&request, &|s| {
        s.local_port == spec.port && spec.proto.is_none_or(|p| p == s.proto)
    })?;
    let entries = inventory::build(&snapshot, &load_services());
    Ok((entries, snapshot))
}

/// Collect and analyse everything about `spec`; `with_probe` allows the bind probe, which then
/// runs for the protocols the socket table shows nothing for (see [`who::probe_protocols`]).
///
/// # Errors
/// When the socket table cannot be read.
pub fn investigate(spec: PortSpec, proc_root: &Path, with_probe: bool) -> Result<Investigation> {
    let (sockets, snapshot) = sockets_on(spec, proc_root)?;
    let warnings = inventory::warnings(&sockets, &snapshot);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let holders = who::holders(&sockets);
    let units = if holders.contains_key(&1) {
        socket_units()
    } else {
        Vec::new()
    };
    let owners: Vec<OwnerDetails> = holders
        .values()
        .map(|(info, proto)| {
            who::owner_details(
                info,
                &owner_raw(proc_root, info.pid),
                spec,
                *proto,
                now,
                &units,
            )
        })
        .collect();
    let probe = if with_probe {
        probe::probe(spec.port, &who::probe_protocols(spec, &sockets))
    } else {
        Vec::new()
    };
    let verdict = who::verdict(&sockets, &probe);
    let settings = port_settings(proc_root);
    let advice = who::advice(&AdviceInput {
        spec,
        sockets: &sockets,
        owners: &owners,
        settings: &settings,
        probe: &probe,
    });
    Ok(Investigation {
        spec,
        sockets,
        owners,
        probe,
        verdict,
        settings,
        advice,
        warnings,
        pid_namespace: snapshot.pid_namespace,
    })
}

/// Run `portscope who`.
///
/// # Errors
/// When the socket table cannot be read or output cannot be written.
pub fn run(
    args: &WhoArgs,
    env: &Env<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let found = investigate(args.port, &env.global.proc_root, !args.no_probe)?;
    print_warnings(err, &found.warnings)?;
    if args.json {
        // The human report says it under its heading.
        print_pid_namespace(err, found.shown_namespace())?;
        crate::render::json::write(out, &found.document())?;
    } else {
        write_report(out, &found.document(), env.style)?;
    }
    out.flush()?;
    Ok(if found.verdict.in_use() {
        Outcome::Found
    } else {
        Outcome::NotFound
    })
}
