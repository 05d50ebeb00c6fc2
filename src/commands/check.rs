//! `portscope check [ADDRESS:]PORT[/tcp|/udp]`: why a connection to a service of this machine
//! fails, or that it works. Composes collect → analyze → render: the listening sockets of the
//! protocol, listeners in other namespaces and unit files when nothing listens, the nftables
//! ruleset, one real connect (only to an address of this machine), then
//! `analyze::check::diagnose` and the report.

use std::io::Write;

use anyhow::{Result, bail};

use crate::analyze::check::{self, Facts, NEARBY};
use crate::analyze::firewall::{self, MODELLED, NOT_MODELLED, Packet};
use crate::analyze::inventory;
use crate::cli::CheckArgs;
use crate::commands::{Env, Outcome, print_warnings, report_format};
use crate::model::{HostAddr, Request, Ruleset, SocketQuery, is_link_local_v6};
use crate::render::ReportFormat;
use crate::render::check::{
    CheckDocument, FirewallPath, FirewallReport, verdict_line, write_report,
};
use crate::render::json::SCHEMA_VERSION;

/// Run `portscope check`: exit 0 when the connection works, 1 when it does not.
///
/// # Errors
/// When the address is not this machine's (not a scanner), the socket table cannot be read or
/// output cannot be written.
pub fn run(
    args: &CheckArgs,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let target = args.target.clone();
    let platform = env.platform();
    let request = Request {
        query: SocketQuery::listening(),
        owners: true,
    };
    let snapshot = env
        .collector
        .snapshot(&request, &|s| s.proto == target.proto)?;
    let scope = check::link_scope(&target, &snapshot.interfaces).map_err(anyhow::Error::msg)?;
    // A link-local address is this machine's on the interface its scope names.
    let local = target.address.is_loopback()
        || if is_link_local_v6(target.address) {
            scope.is_some()
        } else {
            snapshot.interfaces.iter().any(|i| i.addr == target.address)
        };
    if !local {
        bail!(
            "{} is not an address of this machine: portscope check only connects to this machine's own addresses (it is not a network scanner); run it on the host that has the address",
            HostAddr(target.address)
        );
    }
    // Two paths in: this machine's own connect arrives on `lo` whatever the address; other
    // machines' packets arrive on the interface that carries it.
    let arrives_on = if target.address.is_loopback() {
        Some("lo".to_owned())
    } else if let Some((name, _)) = &scope {
        Some(name.clone())
    } else {
        snapshot
            .interfaces
            .iter()
            .find(|i| i.addr == target.address)
            .map(|i| i.name.clone())
    };
    let entries = inventory::build(&snapshot, env.services());
    print_warnings(err, &inventory::warnings(&entries, &snapshot))?;
    let (listeners, rest): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|e| e.local_port == target.port);
    let (nearby, foreign, units) = if listeners.is_empty() {
        let nearby: Vec<_> = rest
            .into_iter()
            .filter(|e| e.local_port.abs_diff(target.port) <= NEARBY)
            .collect();
        let foreign = platform.foreign_listeners(target.port, target.proto);
        let services = env.services();
        let names: Vec<&str> = services
            .lookup(target.port, target.proto)
            .into_iter()
            .collect();
        let mut units = check::unit_hints(&platform.unit_files(), &names, target.port);
        for unit in &mut units {
            unit.running = platform.unit_running(&unit.unit);
        }
        (nearby, foreign, units)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let ruleset = platform
        .firewall_text()
        .and_then(|text| Ruleset::from_text(&text));
    let evaluate = |iifname: Option<String>| {
        ruleset.as_ref().map_err(Clone::clone).map(|ruleset| {
            firewall::evaluate(
                ruleset,
                &Packet {
                    proto: target.proto,
                    daddr: target.address,
                    dport: target.port,
                    iifname,
                },
            )
        })
    };
    let firewall_local = evaluate(Some("lo".to_owned()));
    let firewall_remote = if target.address.is_loopback() {
        None
    } else {
        Some(evaluate(arrives_on.clone()))
    };
    let scope_id = scope.as_ref().map_or(0, |(_, index)| *index);
    let connect = platform.connect(&target, scope_id, args.timeout);
    let diagnosis = check::diagnose(&Facts {
        target: &target,
        listeners: &listeners,
        nearby: &nearby,
        foreign: &foreign,
        units: &units,
        arrives_on: arrives_on.as_deref(),
        firewall: firewall_local.as_ref().ok(),
        firewall_remote: firewall_remote.as_ref().and_then(|r| r.as_ref().ok()),
        connect: &connect,
    });
    let verdict = verdict_line(
        &target,
        diagnosis.works,
        &connect,
        diagnosis.accepting.and_then(|i| listeners.get(i)),
        &diagnosis.causes,
    );
    let doc = CheckDocument {
        schema_version: SCHEMA_VERSION,
        target,
        works: diagnosis.works,
        verdict,
        firewall: match &firewall_remote {
            Some(remote) => FirewallReport::of(
                FirewallPath::Remote,
                remote.as_ref().map_err(String::as_str),
                arrives_on.as_deref(),
                MODELLED,
                NOT_MODELLED,
            ),
            None => FirewallReport::of(
                FirewallPath::Local,
                firewall_local.as_ref().map_err(String::as_str),
                Some("lo"),
                MODELLED,
                NOT_MODELLED,
            ),
        },
        firewall_local: FirewallReport::of(
            FirewallPath::Local,
            firewall_local.as_ref().map_err(String::as_str),
            Some("lo"),
            MODELLED,
            NOT_MODELLED,
        ),
        connect,
        listeners,
        nearby,
        other_namespaces: foreign,
        units,
        causes: diagnosis.causes,
    };
    match report_format(args.format(), "check")? {
        ReportFormat::Json => crate::render::json::write(out, &doc)?,
        ReportFormat::Table => write_report(out, &doc, env.style)?,
    }
    out.flush()?;
    Ok(if doc.works {
        Outcome::Found
    } else {
        Outcome::NotFound
    })
}
