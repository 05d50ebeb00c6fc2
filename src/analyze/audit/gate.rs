//! The CI gate of `portscope audit --fail-on`: whether the audit fails, and how many of the
//! findings it fails on `--min-severity` keeps out of the report.
//!
//! Pure: a function of the findings and the two thresholds; it must not filter the findings,
//! print or decide the exit code (the command maps [`Gate::failed`] to it).

use crate::model::{Finding, Gate, Severity};

/// True when an unsuppressed finding is at or above `threshold`.
#[must_use]
pub fn fails(findings: &[Finding], threshold: Severity) -> bool {
    findings
        .iter()
        .any(|f| !f.suppressed && f.severity >= threshold)
}

/// The CI gate. `--fail-on` judges every unsuppressed finding left after the baseline and the
/// allowlist, whatever `--min-severity` leaves out of the report: that option only filters what
/// is shown, so `--min-severity critical --fail-on high` still fails on a high finding (and
/// counts it in [`Gate::hidden`]). Without `--fail-on` the audit never fails.
#[must_use]
pub fn gate(
    findings: &[Finding],
    fail_on: Option<Severity>,
    min_severity: Option<Severity>,
) -> Gate {
    let Some(threshold) = fail_on else {
        return Gate::default();
    };
    let hidden = findings
        .iter()
        .filter(|f| !f.suppressed && f.severity >= threshold)
        .filter(|f| min_severity.is_some_and(|floor| f.severity < floor))
        .count();
    Gate {
        failed: fails(findings, threshold),
        hidden,
    }
}

/// The warning that the gate failed on findings the report does not show, when it did.
#[must_use]
pub fn hidden_warning(
    gate: Gate,
    fail_on: Option<Severity>,
    min_severity: Option<Severity>,
) -> Option<String> {
    match (gate.hidden > 0, fail_on, min_severity) {
        (true, Some(fail_on), Some(floor)) => Some(format!(
            "{} unsuppressed finding(s) at or above --fail-on {fail_on} are below \
             --min-severity {floor} and not shown, but still fail the audit",
            gate.hidden
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::audit::tests::{entry, run};
    use crate::model::{AddrClass::*, HostContext, Proto, Summary};
    use Severity::*;

    #[test]
    fn gate_ignores_the_display_filter() {
        let entries = [
            entry(Proto::Tcp, "0.0.0.0", 23, Some(Public)),
            entry(Proto::Tcp, "10.0.0.5", 6379, Some(Private)),
        ];
        // One high (telnet, public) and one medium (redis, private) finding.
        let fs = run(&entries, &HostContext::default());
        assert_eq!(Summary::of(&fs).line(), "1 high, 1 medium");
        let mut suppressed = fs.clone();
        suppressed[0].suppressed = true;
        let gate = |failed, hidden| Gate { failed, hidden };
        // (findings, --fail-on, --min-severity) → verdict
        let cases = [
            (&fs, None, None, gate(false, 0)),
            (&fs, None, Some(Critical), gate(false, 0)),
            (&fs, Some(Critical), None, gate(false, 0)),
            (&fs, Some(High), None, gate(true, 0)),
            (&fs, Some(High), Some(High), gate(true, 0)),
            (&fs, Some(High), Some(Low), gate(true, 0)),
            // The reported combination: the high finding is not shown but still fails.
            (&fs, Some(High), Some(Critical), gate(true, 1)),
            (&fs, Some(Medium), Some(Critical), gate(true, 2)),
            (&fs, Some(Medium), Some(High), gate(true, 1)),
            (&fs, Some(Critical), Some(Critical), gate(false, 0)),
            // Suppressed findings never fail, shown or not.
            (&suppressed, Some(High), Some(Critical), gate(false, 0)),
            (&suppressed, Some(Medium), Some(Critical), gate(true, 1)),
            (&vec![], Some(Info), Some(Critical), gate(false, 0)),
        ];
        for (findings, fail_on, min, want) in cases {
            assert_eq!(
                super::gate(findings, fail_on, min),
                want,
                "--fail-on {fail_on:?} --min-severity {min:?}"
            );
        }
    }

    #[test]
    fn the_hidden_warning_names_both_thresholds() {
        let gate = |hidden| Gate {
            failed: true,
            hidden,
        };
        let cases = [
            (gate(0), Some(High), Some(Critical), None),
            (gate(2), None, Some(Critical), None),
            (gate(2), Some(High), None, None),
            (
                gate(2),
                Some(High),
                Some(Critical),
                Some(
                    "2 unsuppressed finding(s) at or above --fail-on high are below \
                     --min-severity critical and not shown, but still fail the audit",
                ),
            ),
        ];
        for (g, fail_on, min, want) in cases {
            assert_eq!(
                hidden_warning(g, fail_on, min).as_deref(),
                want,
                "{g:?} {fail_on:?} {min:?}"
            );
        }
    }
}
