//! `portscope who PORT[/tcp|/udp]`: every socket on one local port in any state, its owners in
//! detail, a bind probe and advice. Composes collect → analyze → render: the sockets on the
//! port, the bind probe of what they do not explain, each holder's raw facts, the port sysctls,
//! then `analyze::investigation::investigate` and the report.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

use crate::analyze::inventory;
use crate::analyze::investigation::{self, Pieces};
use crate::cli::WhoArgs;
use crate::collect::who::{owner_raw, port_settings, socket_units};
use crate::collect::{self, Request, SocketQuery, probe};
use crate::commands::list::load_services;
use crate::commands::{Env, Outcome, print_pid_namespace, print_warnings};
use crate::render::investigation::{WhoDocument, write_report};

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
    let spec = args.port;
    let proc_root = &env.global.proc_root;
    let request = Request {
        query: SocketQuery::port(spec),
        owners: true,
        proc_root: proc_root.clone(),
    };
    let snapshot = collect::snapshot(&request, &|s| spec.matches(s.proto, s.local_port))?;
    let sockets = inventory::build(&snapshot, &load_services());
    let warnings = inventory::warnings(&sockets, &snapshot);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let holders = investigation::holders(&sockets);
    // Socket units can only explain a port pid 1 holds.
    let socket_units = if holders.contains_key(&1) {
        socket_units()
    } else {
        Vec::new()
    };
    let owner_raw: BTreeMap<_, _> = holders
        .keys()
        .map(|&pid| (pid, owner_raw(proc_root, pid)))
        .collect();
    let probe = if args.no_probe {
        Vec::new()
    } else {
        probe::probe(spec.port, &investigation::probe_protocols(spec, &sockets))
    };
    let found = investigation::investigate(Pieces {
        spec,
        sockets,
        warnings,
        owner_raw,
        socket_units,
        settings: port_settings(proc_root),
        probe,
        now,
        pid_namespace: snapshot.pid_namespace,
    });
    print_warnings(err, &found.warnings)?;
    if args.json {
        // The human report says it under its heading.
        print_pid_namespace(err, found.shown_namespace())?;
        crate::render::json::write(out, &WhoDocument::of(&found))?;
    } else {
        write_report(out, &WhoDocument::of(&found), env.style)?;
    }
    out.flush()?;
    Ok(if found.verdict.in_use() {
        Outcome::Found
    } else {
        Outcome::NotFound
    })
}
