//! The whole audit decision after the findings are made: name the owners, drop what the
//! baseline already had, mark what the allowlist accepts, judge `--fail-on`, then apply the
//! `--min-severity` floor and count, giving the [`AuditReport`] a command renders.
//!
//! Pure: the command loads the files, reads the cgroups and the clock, and passes them in; this
//! module must not read files, the system or the clock, and must not print (its warnings are
//! returned in the report).

use std::collections::HashMap;

use crate::analyze::allowlist::Allowlist;
use crate::analyze::audit::gate::{gate, hidden_warning};
use crate::analyze::audit::owners::{attach_owners, parse_cgroups};
use crate::analyze::baseline::Baseline;
use crate::model::{AuditReport, Date, Finding, Severity, Summary};

/// What the user asked of the audit, besides its inputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditOptions {
    /// `--min-severity`: findings below it are left out of the report (the gate still judges
    /// them).
    pub min_severity: Option<Severity>,
    /// `--fail-on`: the audit fails when an unsuppressed finding is at or above it.
    pub fail_on: Option<Severity>,
    /// `--show-suppressed`: the table shows suppressed findings too.
    pub show_suppressed: bool,
}

/// What the user declared accepted: the `--baseline` and the `--allow` file, as loaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accepted<'a> {
    /// Findings unchanged since this baseline are dropped; the others say how they drifted.
    pub baseline: Option<&'a Baseline>,
    /// Findings this allowlist covers are marked suppressed.
    pub allowlist: Option<&'a Allowlist>,
    /// How warnings name the allowlist: its path as given.
    pub allowlist_name: &'a str,
}

/// Decide the audit of `findings` (from [`crate::analyze::audit::findings`]).
///
/// In order: the owners' units and containers are named from `cgroups` (pid → text of
/// `/proc/PID/cgroup`, for the pids of [`crate::analyze::audit::owner_pids`]); findings the
/// baseline already had, no more exposed, are dropped; findings the allowlist covers on `today`
/// are marked suppressed (each expired entry gives a warning); the gate judges every finding
/// left; then findings below `--min-severity` are removed and the rest counted. `warnings` (what
/// the collection reported) come first in the report's warnings, then the allowlist's, then the
/// gate's.
#[must_use]
pub fn report(
    mut findings: Vec<Finding>,
    cgroups: &HashMap<u32, String>,
    accepted: Accepted<'_>,
    options: AuditOptions,
    today: Date,
    mut warnings: Vec<String>,
) -> AuditReport {
    attach_owners(&mut findings, &parse_cgroups(cgroups));
    if let Some(baseline) = accepted.baseline {
        baseline.filter(&mut findings);
    }
    if let Some(list) = accepted.allowlist {
        for w in list.apply(&mut findings, today) {
            warnings.push(format!("allowlist {}: {w}", accepted.allowlist_name));
        }
    }
    // The gate judges every unsuppressed finding; --min-severity only filters the report.
    let gate = gate(&findings, options.fail_on, options.min_severity);
    warnings.extend(hidden_warning(gate, options.fail_on, options.min_severity));
    if let Some(floor) = options.min_severity {
        findings.retain(|f| f.severity >= floor);
    }
    AuditReport {
        summary: Summary::of(&findings),
        findings,
        warnings,
        gate,
        show_suppressed: options.show_suppressed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::audit::tests::{entry, run};
    use crate::analyze::audit::{findings, owner_pids};
    use crate::analyze::rules::RuleSet;
    use crate::model::{AddrClass::*, Drift, Gate, HostContext, Proto};
    use Severity::*;

    /// Telnet public (high), Docker API public (critical), Redis private (medium), HTTP public
    /// (info); every socket owned by pid 42.
    fn sample() -> Vec<Finding> {
        run(
            &[
                entry(Proto::Tcp, "11.22.33.44", 23, Some(Public)),
                entry(Proto::Tcp, "11.22.33.44", 2375, Some(Public)),
                entry(Proto::Tcp, "10.0.0.5", 6379, Some(Private)),
                entry(Proto::Tcp, "11.22.33.44", 80, Some(Public)),
            ],
            &HostContext::default(),
        )
    }

    fn allow(ports: &[(u16, Option<&str>)]) -> Allowlist {
        let text: String = ports
            .iter()
            .map(|(port, expires)| {
                let expires = expires.map_or(String::new(), |d| format!("expires = \"{d}\"\n"));
                format!("[[allow]]\nport = {port}\nreason = \"ok\"\n{expires}")
            })
            .collect();
        Allowlist::parse(&text).unwrap()
    }

    /// A baseline that had telnet as it is now and Redis on loopback only.
    fn golden() -> Baseline {
        Baseline::from_entries(
            &[
                entry(Proto::Tcp, "11.22.33.44", 23, Some(Public)),
                entry(Proto::Tcp, "10.0.0.5", 6379, Some(Loopback)),
            ],
            0,
        )
    }

    /// One finding as the report shows it: port, suppressed, drift.
    type Row = (u16, bool, Option<Drift>);

    struct Case {
        name: &'static str,
        baseline: bool,
        allow: Vec<(u16, Option<&'static str>)>,
        options: AuditOptions,
        want_rows: Vec<Row>,
        want_summary: &'static str,
        want_gate: Gate,
        want_warnings: usize,
        want_shown: Vec<u16>,
    }

    fn opts(min: Option<Severity>, fail: Option<Severity>, show: bool) -> AuditOptions {
        AuditOptions {
            min_severity: min,
            fail_on: fail,
            show_suppressed: show,
        }
    }

    fn gate(failed: bool, hidden: usize) -> Gate {
        Gate { failed, hidden }
    }

    #[test]
    fn floor_suppression_baseline_and_gate() {
        use Drift::*;
        let all = |s: bool, d: Option<Drift>| -> Vec<Row> {
            vec![
                (2375, s, d),
                (23, false, d),
                (6379, false, d),
                (80, false, d),
            ]
        };
        let cases = vec![
            Case {
                name: "nothing asked: every finding, never fails",
                baseline: false,
                allow: vec![],
                options: opts(None, None, false),
                want_rows: all(false, None),
                want_summary: "1 critical, 1 high, 1 medium, 1 info",
                want_gate: gate(false, 0),
                want_warnings: 1,
                want_shown: vec![2375, 23, 6379, 80],
            },
            Case {
                name: "the floor filters the report, not the gate",
                baseline: false,
                allow: vec![],
                options: opts(Some(Critical), Some(Medium), false),
                want_rows: vec![(2375, false, None)],
                want_summary: "1 critical",
                want_gate: gate(true, 2),
                want_warnings: 2,
                want_shown: vec![2375],
            },
            Case {
                name: "a floor at the threshold hides nothing",
                baseline: false,
                allow: vec![],
                options: opts(Some(High), Some(High), false),
                want_rows: vec![(2375, false, None), (23, false, None)],
                want_summary: "1 critical, 1 high",
                want_gate: gate(true, 0),
                want_warnings: 1,
                want_shown: vec![2375, 23],
            },
            Case {
                name: "suppressed findings never fail and are counted apart",
                baseline: false,
                allow: vec![(2375, None)],
                options: opts(None, Some(Critical), false),
                want_rows: all(true, None),
                want_summary: "1 high, 1 medium, 1 info, 1 suppressed",
                want_gate: gate(false, 0),
                want_warnings: 1,
                want_shown: vec![23, 6379, 80],
            },
            Case {
                name: "--show-suppressed shows them in the table",
                baseline: false,
                allow: vec![(2375, None)],
                options: opts(None, Some(High), true),
                want_rows: all(true, None),
                want_summary: "1 high, 1 medium, 1 info, 1 suppressed",
                want_gate: gate(true, 0),
                want_warnings: 1,
                want_shown: vec![2375, 23, 6379, 80],
            },
            Case {
                name: "a suppressed finding below the floor is not counted",
                baseline: false,
                allow: vec![(80, None)],
                options: opts(Some(Low), Some(Info), true),
                want_rows: vec![(2375, false, None), (23, false, None), (6379, false, None)],
                want_summary: "1 critical, 1 high, 1 medium",
                want_gate: gate(true, 0),
                want_warnings: 1,
                want_shown: vec![2375, 23, 6379],
            },
            Case {
                name: "an expired entry warns and suppresses nothing",
                baseline: false,
                allow: vec![(2375, Some("2025-06-30"))],
                options: opts(None, Some(Critical), false),
                want_rows: all(false, None),
                want_summary: "1 critical, 1 high, 1 medium, 1 info",
                want_gate: gate(true, 0),
                want_warnings: 2,
                want_shown: vec![2375, 23, 6379, 80],
            },
            Case {
                name: "the baseline drops unchanged findings before the gate",
                baseline: true,
                allow: vec![],
                options: opts(None, Some(High), false),
                want_rows: vec![
                    (2375, false, Some(New)),
                    (6379, false, Some(MoreExposed)),
                    (80, false, Some(New)),
                ],
                want_summary: "1 critical, 1 medium, 1 info",
                want_gate: gate(true, 0),
                want_warnings: 1,
                want_shown: vec![2375, 6379, 80],
            },
            Case {
                name: "baseline, allowlist, floor and gate together",
                baseline: true,
                allow: vec![(2375, None)],
                options: opts(Some(Medium), Some(Low), false),
                want_rows: vec![(2375, true, Some(New)), (6379, false, Some(MoreExposed))],
                want_summary: "1 medium, 1 suppressed",
                want_gate: gate(true, 0),
                want_warnings: 1,
                want_shown: vec![6379],
            },
        ];
        let base = golden();
        let today: Date = "2025-07-01".parse().unwrap();
        for case in cases {
            let list = allow(&case.allow);
            let accepted = Accepted {
                baseline: case.baseline.then_some(&base),
                allowlist: (!case.allow.is_empty()).then_some(&list),
                allowlist_name: "allow.toml",
            };
            let got = report(
                sample(),
                &HashMap::new(),
                accepted,
                case.options,
                today,
                vec!["collected partly".to_owned()],
            );
            let rows: Vec<Row> = got
                .findings
                .iter()
                .map(|f| (f.socket.port, f.suppressed, f.baseline))
                .collect();
            let shown: Vec<u16> = got.shown().iter().map(|f| f.socket.port).collect();
            let name = case.name;
            assert_eq!(rows, case.want_rows, "{name}");
            assert_eq!(got.summary.line(), case.want_summary, "{name}");
            assert_eq!(got.summary, Summary::of(&got.findings), "{name}");
            assert_eq!(got.gate, case.want_gate, "{name}");
            assert_eq!(
                got.warnings.len(),
                case.want_warnings,
                "{name}: {:?}",
                got.warnings
            );
            assert_eq!(got.warnings[0], "collected partly", "{name}");
            assert_eq!(shown, case.want_shown, "{name}");
            assert_eq!(got.show_suppressed, case.options.show_suppressed, "{name}");
        }
    }

    #[test]
    fn warnings_come_in_order_and_name_the_allowlist() {
        let list = allow(&[(23, Some("2025-06-30"))]);
        let got = report(
            sample(),
            &HashMap::new(),
            Accepted {
                baseline: None,
                allowlist: Some(&list),
                allowlist_name: "/etc/portscope/allow.toml",
            },
            opts(Some(Critical), Some(High), false),
            "2025-07-01".parse().unwrap(),
            vec!["collected partly".to_owned()],
        );
        assert_eq!(
            got.warnings,
            vec![
                "collected partly".to_owned(),
                "allowlist /etc/portscope/allow.toml: entry at line 1 (port 23) expired on \
                 2025-06-30 and no longer suppresses anything: renew or remove it"
                    .to_owned(),
                "1 unsuppressed finding(s) at or above --fail-on high are below --min-severity \
                 critical and not shown, but still fail the audit"
                    .to_owned(),
            ]
        );
        // Through the last day itself the entry still suppresses, silently.
        let got = report(
            sample(),
            &HashMap::new(),
            Accepted {
                baseline: None,
                allowlist: Some(&list),
                allowlist_name: "a",
            },
            AuditOptions::default(),
            "2025-06-30".parse().unwrap(),
            Vec::new(),
        );
        assert!(got.warnings.is_empty(), "{:?}", got.warnings);
        assert_eq!(got.summary.suppressed, 1);
    }

    #[test]
    fn cgroup_texts_name_units() {
        let fs = findings(
            &[entry(Proto::Tcp, "11.22.33.44", 23, Some(Public))],
            RuleSet::builtin(),
            &HostContext::default(),
        );
        assert_eq!(owner_pids(&fs).into_iter().collect::<Vec<_>>(), vec![42]);
        let cgroups = HashMap::from([(42, "0::/system.slice/inetd.service\n".to_owned())]);
        let got = report(
            fs,
            &cgroups,
            Accepted::default(),
            AuditOptions::default(),
            "2025-01-01".parse().unwrap(),
            Vec::new(),
        );
        assert_eq!(got.findings[0].units, vec!["inetd.service"]);
    }
}
