//! `portscope audit`: load the allowlist and baseline, read the clock once, collect the listeners
//! and the owners' cgroups, let [`audit::report`] decide, render the report and return the gate's
//! outcome. With `--save-baseline` it records the listeners instead. With `--from FILE...` it
//! audits saved snapshots of other hosts (`portscope --json`) instead of this machine: every file
//! is read and checked first, then the same decisions apply, each finding naming its host.
//!
//! Only composition lives here: the files are read through `collect::files` and the baseline
//! written through `collect::output`; the owners' cgroups are joined, the findings, the
//! baseline, the allowlist, the severity floor and the `--fail-on` gate decided in
//! [`crate::analyze::audit`]; the table and JSON are written by [`crate::render::audit`], CSV
//! and metrics by [`crate::render::csv`] and [`crate::render::prometheus`]. With `--output
//! FILE` the report replaces FILE atomically instead of going to stdout
//! (`commands::with_output`).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use crate::render::Format;
use anyhow::{Context, Result, anyhow};

use crate::analyze::allowlist::Allowlist;
use crate::analyze::audit::{self, Accepted, AuditOptions, ReachContext};
use crate::analyze::baseline::Baseline;
use crate::analyze::fleet;
use crate::analyze::inventory;
use crate::analyze::rules::RuleSet;
use crate::cli::AuditArgs;
use crate::collect::files::{INPUT_LIMIT, read_regular_text};
use crate::collect::output;
use crate::commands::{Env, Outcome, print_warnings, with_output};
use crate::model::{
    HostContext, HostSnapshot, NetnsSelection, Request, Ruleset, SnapshotSource, SocketEntry,
    SocketQuery, UnixTime,
};
use crate::render::audit::{AuditDocument, table};
use crate::render::prometheus::{self, Judged, Run};
use crate::render::{Style, csv, json, sanitize};

/// Run the audit.
///
/// # Errors
/// When the allowlist or baseline cannot be read or parsed (named with the line), when the
/// socket table cannot be read, or when output cannot be written.
pub fn run(
    args: &AuditArgs,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let style = match args.output {
        // A file is neither a terminal nor coloured.
        Some(_) => Style {
            color: false,
            width: None,
        },
        None => env.style,
    };
    with_output(args.output.as_deref(), args.format(), "audit", out, |out| {
        audit(args, env, style, out, err)
    })
}

fn audit(
    args: &AuditArgs,
    env: &Env,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    // Inputs first: a bad file fails before anything is collected or reported.
    let allowlist = args.allow.as_deref().map(load_allowlist).transpose()?;
    let baseline = args.baseline.as_deref().map(load_baseline).transpose()?;
    // Every snapshot is read and checked before any is audited: a bad one is the only output.
    let snapshots = args
        .from
        .iter()
        .map(|path| load_snapshot(path))
        .collect::<Result<Vec<HostSnapshot>>>()?;
    // The one reading of the clock: the baseline's `created` and the allowlist's today.
    let now = UnixTime::from_system_time(SystemTime::now());

    let (entries, findings, cgroups, warnings, record) = if args.from.is_empty() {
        let request = Request {
            query: SocketQuery::listening(),
            owners: true,
        };
        let snapshot = env.collector.snapshot(&request, &|_| true)?;
        let mut entries = inventory::build(&snapshot, env.services());
        if args.identify {
            super::identify(&mut entries, &snapshot.interfaces);
        }
        // The firewall, read once (not for --save-baseline): its DNAT rules publish namespace
        // sockets, and reachability is judged on it below.
        let ruleset = if args.save_baseline.is_some() {
            Err(String::new())
        } else {
            env.platform()
                .firewall_text()
                .and_then(|text| Ruleset::from_text(&text))
        };
        // Sockets of other namespaces, as the host sees them: published by a forwarder or a
        // DNAT rule of the host namespace, or host-internal (analyze/audit/netns.rs).
        let mut links = audit::Links::default();
        if !snapshot.namespaces.is_empty() {
            let held = env
                .platform()
                .held_namespaces(&audit::forwarder_pids(&entries));
            let dnat = ruleset
                .as_ref()
                .ok()
                .map(|r| audit::nat_publications(r, &snapshot.interfaces).0);
            links = audit::publications(
                &entries,
                &audit::PublishInputs {
                    namespaces: &snapshot.namespaces,
                    held: &held,
                    dnat: dnat.as_deref(),
                },
            );
        }
        let seen = audit::host_facing(&entries, &links.published);
        // `--netns NAME` reads the host's namespace too, for its forwarders only.
        let keep: Vec<bool> = entries
            .iter()
            .map(|e| {
                !matches!(env.netns, NetnsSelection::One { .. })
                    || e.netns.as_ref().is_none_or(|n| !n.host)
            })
            .collect();
        let (entries, seen): (Vec<SocketEntry>, Vec<SocketEntry>) = entries
            .into_iter()
            .zip(seen)
            .zip(&keep)
            .filter(|(_, keep)| **keep)
            .map(|(pair, _)| pair)
            .unzip();
        links.published = links
            .published
            .into_iter()
            .filter(|(i, _)| keep[*i])
            .map(|(i, list)| (keep[..i].iter().filter(|k| **k).count(), list))
            .collect();
        let warnings = inventory::warnings(&entries, &snapshot);
        if args.save_baseline.is_some() {
            let record = Baseline::from_entries(&entries, now.0);
            (entries, Vec::new(), HashMap::new(), warnings, Some(record))
        } else {
            let host = HostContext {
                route_localnet: env.platform().route_localnet(),
            };
            let mut findings = audit::findings(&seen, RuleSet::builtin(), &host);
            audit::attach_namespaces(&mut findings, &entries, &links);
            // Reachability: evaluated per (proto, address, port, iface).
            let reach = ReachContext {
                ruleset: ruleset.as_ref().map_err(String::as_str),
                addresses: &snapshot.interfaces,
                forwarding: env.platform().ip_forwarding(),
                namespaces: &snapshot.namespaces,
            };
            let mut warnings = warnings;
            warnings.extend(audit::apply_reachability(
                &mut findings,
                &entries,
                RuleSet::builtin(),
                &reach,
            ));
            // Units and containers of the owners: one cgroup read per owning pid of a finding.
            let cgroups = audit::owner_cgroups(&findings, |pid| env.platform().cgroup(pid));
            (entries, findings, cgroups, warnings, None)
        }
    } else {
        // Other hosts' pids mean nothing here: no cgroup is read for them.
        let warnings = fleet::warnings(&snapshots);
        if args.save_baseline.is_some() {
            let record = Baseline::from_snapshots(&snapshots, now.0);
            (
                Vec::new(),
                Vec::new(),
                HashMap::new(),
                warnings,
                Some(record),
            )
        } else {
            let findings = fleet::findings(&snapshots, RuleSet::builtin());
            (Vec::new(), findings, HashMap::new(), warnings, None)
        }
    };

    if let (Some(path), Some(record)) = (&args.save_baseline, record) {
        print_warnings(err, &warnings)?;
        let text = serde_json::to_string_pretty(&record)? + "\n";
        output::replace_file(path, text.as_bytes())
            .with_context(|| format!("cannot write baseline {}", path.display()))?;
        writeln!(
            err,
            "portscope: saved {} listener(s) to baseline {}",
            record.listeners.len(),
            sanitize(&path.display().to_string())
        )?;
        return Ok(Outcome::Found);
    }

    let allowlist_name = args
        .allow
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let accepted = Accepted {
        baseline: baseline.as_ref(),
        allowlist: allowlist.as_ref(),
        allowlist_name: &allowlist_name,
    };
    let options = AuditOptions {
        min_severity: args.min_severity,
        fail_on: args.fail_on,
        show_suppressed: args.show_suppressed,
    };
    let report = audit::report(findings, &cgroups, accepted, options, now.date(), warnings);
    print_warnings(err, &report.warnings)?;

    // The listening sockets judged, for the metrics: this machine's, or each snapshot's.
    let judged: Vec<Judged<'_>> = if snapshots.is_empty() {
        vec![Judged {
            host: None,
            entries: &entries,
        }]
    } else {
        snapshots
            .iter()
            .map(|s| Judged {
                host: Some(s.source.host.as_str()),
                entries: &s.sockets,
            })
            .collect()
    };
    let hosts: Vec<SnapshotSource> = snapshots.iter().map(|s| s.source.clone()).collect();
    match args.format() {
        Format::Json if args.from.is_empty() => json::write(out, &AuditDocument::of(&report))?,
        Format::Json => json::write(out, &AuditDocument::of_snapshots(&report, &hosts))?,
        Format::Table => table(out, &report.shown(), &report.summary, report.gate, style)?,
        Format::Csv => csv::write_audit(out, &report)?,
        Format::Prometheus => {
            let run = Run {
                command: "audit",
                time: now,
                success: true,
                warnings: report.warnings.len(),
            };
            prometheus::write_audit(out, &report, &judged, &run)?;
        }
    }
    out.flush()?;
    Ok(if report.gate.failed {
        Outcome::Failed
    } else {
        Outcome::Found
    })
}

/// The text of an allowlist or baseline: a regular file (after symbolic links) of at most
/// [`INPUT_LIMIT`] bytes, read without blocking on a FIFO or device.
fn read_input(what: &str, path: &Path) -> Result<String> {
    read_regular_text(path, INPUT_LIMIT)
        .with_context(|| format!("cannot read {what} {}", path.display()))
}

fn load_allowlist(path: &Path) -> Result<Allowlist> {
    let text = read_input("allowlist", path)?;
    Allowlist::parse(&text).map_err(|e| anyhow!("allowlist {}: {e}", path.display()))
}

fn load_baseline(path: &Path) -> Result<Baseline> {
    let text = read_input("baseline", path)?;
    Baseline::parse(&text).map_err(|e| anyhow!("baseline {}: {e}", path.display()))
}

/// One host's snapshot (`--from`): read as the allowlist is, then checked; an error names the
/// file.
fn load_snapshot(path: &Path) -> Result<HostSnapshot> {
    let text = read_input("snapshot", path)?;
    let file = path.display().to_string();
    fleet::parse_snapshot(&text, &file).map_err(|e| anyhow!("snapshot {file}: {e}"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A snapshot is read as the allowlist is: a FIFO, an oversized file or bad text is an error
    /// naming the file, on one line.
    #[test]
    fn snapshots_are_bounded_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("good.json"), "{\"schema_version\":1,\"sockets\":[]}").unwrap();
        std::fs::write(path("bad.json"), "{\"schema_version\":1,").unwrap();
        let fifo = std::ffi::CString::new(path("fifo.json").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let big = std::fs::File::create(path("big.json")).unwrap();
        big.set_len(INPUT_LIMIT + 1).unwrap();
        let snap = load_snapshot(&path("good.json")).unwrap();
        assert_eq!(snap.source.host, "good.json");
        // (file, what the message says after naming it)
        let cases = [
            ("bad.json", "snapshot", "not valid JSON"),
            ("fifo.json", "cannot read snapshot", "FIFO"),
            ("big.json", "cannot read snapshot", "larger than 16 MiB"),
            ("missing.json", "cannot read snapshot", "No such file"),
        ];
        for (name, head, want) in cases {
            let err = format!("{:#}", load_snapshot(&path(name)).unwrap_err());
            let named = format!("{head} {}", path(name).display());
            assert!(err.starts_with(&named), "{name}: {err}");
            assert!(err.contains(want), "{name}: {err}");
            assert!(!err.contains('\n'), "{name}: {err}");
        }
    }
}
