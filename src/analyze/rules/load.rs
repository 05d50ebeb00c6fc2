//! Loading a rule table: the TOML shape of `rules.toml` (`RawFile`), the checks a table must
//! pass, why one is rejected ([`RulesError`]), and the sorted, overlap-free port index that
//! [`RuleSet::lookup`] searches.
//!
//! It only turns text into a validated [`RuleSet`]: it must not hold the built-in table or answer
//! look-ups (that is [`crate::analyze::rules`]), know what a severity means, read files or print.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{Rule, RuleSet, Source, source_id};
use crate::model::{PortError, PortRange, PortRangeError, Proto};
use crate::model::{Severity, Why};

/// Why a rule table was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// The text is not TOML, or does not have the rule file's shape.
    #[error("rule table does not parse: {message}")]
    Parse {
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// A rule id is empty or not kebab-case.
    #[error(
        "rule id \"{id}\" is not kebab-case: use lower-case letters, digits and single hyphens"
    )]
    BadId {
        /// The offending id.
        id: String,
    },
    /// Two rules share an id.
    #[error("rule id \"{id}\" is used twice: ids must be unique, rename one of them")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// A required text field is empty.
    #[error("rule \"{rule}\" has an empty \"{field}\": write one")]
    EmptyField {
        /// The rule.
        rule: String,
        /// The empty field.
        field: &'static str,
    },
    /// A rule claims no ports.
    #[error("rule \"{rule}\" has no ports: list at least one port or \"a-b\" range")]
    NoPorts {
        /// The rule.
        rule: String,
    },
    /// A port entry is malformed or out of range.
    #[error("rule \"{rule}\" has a bad port \"{value}\": {reason}")]
    BadPort {
        /// The rule.
        rule: String,
        /// The entry as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A TCP rule claims amplification, which only UDP reflectors can do.
    #[error(
        "rule \"{rule}\" is a tcp rule with why \"amplification\": reflection needs spoofable \
         UDP, so drop the code or make it a udp rule"
    )]
    AmplificationOnTcp {
        /// The rule.
        rule: String,
    },
    /// A rule cites nothing.
    #[error("rule \"{rule}\" has no sources: cite at least one id from [sources]")]
    NoSources {
        /// The rule.
        rule: String,
    },
    /// A rule cites a source id missing from `[sources]`.
    #[error(
        "rule \"{rule}\" cites \"{reference}\", but [sources] has no \"{id}\": known ids are {known}"
    )]
    UnknownSource {
        /// The rule.
        rule: String,
        /// The reference as written.
        reference: String,
        /// Its source id.
        id: String,
        /// The ids `[sources]` defines, comma-separated.
        known: String,
    },
    /// A `[sources]` entry has an unusable id, title or URL.
    #[error("source \"{id}\" is invalid: {reason}")]
    BadSource {
        /// The source id.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two rules (or one rule twice) claim the same identified service over one protocol.
    #[error(
        "service \"{service}\" over {proto} is claimed by rule \"{first}\" and by rule \"{second}\": \
         an identified service may belong to one rule only"
    )]
    ServiceTwice {
        /// The service named twice.
        service: String,
        /// Its protocol.
        proto: Proto,
        /// One claimant.
        first: String,
        /// The other claimant.
        second: String,
    },
    /// Two rules (or one rule twice) claim the same port and protocol.
    #[error(
        "port {port}/{proto} is claimed by rule \"{first}\" and by rule \"{second}\": a port and \
         protocol may belong to one rule only"
    )]
    Overlap {
        /// The first port claimed twice.
        port: u16,
        /// Its protocol.
        proto: Proto,
        /// One claimant.
        first: String,
        /// The other claimant.
        second: String,
    },
}

/// The rule file as written: `[[rule]]` entries and a `[sources]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
    #[serde(default)]
    sources: BTreeMap<String, Source>,
}

/// One `[[rule]]` entry before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    service: String,
    proto: Proto,
    ports: Vec<RawPort>,
    #[serde(default)]
    services: Vec<String>,
    severity: Severity,
    #[serde(default)]
    why: Vec<Why>,
    summary: String,
    fix: String,
    #[serde(default)]
    alternative: Option<String>,
    sources: Vec<String>,
}

/// A `ports` entry: a number, or a range written `"a-b"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawPort {
    Number(i64),
    Text(String),
}

/// Parse and validate a rule table: the work of [`RuleSet::load`], which documents the checks.
pub(super) fn parse(text: &str) -> Result<RuleSet, RulesError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| RulesError::Parse {
        message: e.to_string(),
    })?;
    for (id, source) in &raw.sources {
        validate_source(id, source)?;
    }
    let mut seen = BTreeSet::new();
    let mut rules = Vec::with_capacity(raw.rules.len());
    for rule in raw.rules {
        rules.push(validate_rule(rule, &raw.sources, &mut seen)?);
    }
    let index = build_index(&rules)?;
    check_services(&rules)?;
    Ok(RuleSet {
        rules,
        sources: raw.sources,
        index,
    })
}

fn validate_source(id: &str, source: &Source) -> Result<(), RulesError> {
    let bad = |reason| {
        Err(RulesError::BadSource {
            id: id.to_owned(),
            reason,
        })
    };
    if id.is_empty() || id.contains(char::is_whitespace) {
        return bad(
            "an id must be non-empty and without spaces (a space starts a reference's detail)",
        );
    }
    if source.title.trim().is_empty() {
        return bad("the title is empty");
    }
    let is_url = |url: &str| url.starts_with("https://") || url.starts_with("http://");
    if !is_url(&source.url) || !source.also.iter().all(|url| is_url(url)) {
        return bad("every address must start with https:// or http://");
    }
    Ok(())
}

fn validate_rule(
    raw: RawRule,
    sources: &BTreeMap<String, Source>,
    seen: &mut BTreeSet<String>,
) -> Result<Rule, RulesError> {
    let id = raw.id;
    let kebab = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--");
    if !kebab {
        return Err(RulesError::BadId { id });
    }
    if !seen.insert(id.clone()) {
        return Err(RulesError::DuplicateId { id });
    }
    for (field, value) in [
        ("service", &raw.service),
        ("summary", &raw.summary),
        ("fix", &raw.fix),
    ] {
        if value.trim().is_empty() {
            return Err(RulesError::EmptyField { rule: id, field });
        }
    }
    if raw.ports.is_empty() {
        return Err(RulesError::NoPorts { rule: id });
    }
    let ports = raw
        .ports
        .iter()
        .map(|port| parse_port(&id, port))
        .collect::<Result<Vec<_>, _>>()?;
    if raw.proto == Proto::Tcp && raw.why.contains(&Why::Amplification) {
        return Err(RulesError::AmplificationOnTcp { rule: id });
    }
    if raw.sources.is_empty() {
        return Err(RulesError::NoSources { rule: id });
    }
    if let Some(reference) = raw
        .sources
        .iter()
        .find(|r| !sources.contains_key(source_id(r)))
    {
        return Err(RulesError::UnknownSource {
            id: source_id(reference).to_owned(),
            reference: reference.clone(),
            known: sources.keys().cloned().collect::<Vec<_>>().join(", "),
            rule: id,
        });
    }
    Ok(Rule {
        id,
        service: raw.service,
        proto: raw.proto,
        ports,
        services: raw.services,
        severity: raw.severity,
        why: raw.why,
        summary: raw.summary,
        fix: raw.fix,
        alternative: raw.alternative.filter(|a| !a.trim().is_empty()),
        sources: raw.sources,
    })
}

fn parse_port(rule: &str, raw: &RawPort) -> Result<PortRange, RulesError> {
    let bad = |value: String, reason| RulesError::BadPort {
        rule: rule.to_owned(),
        value,
        reason,
    };
    match raw {
        RawPort::Number(n) => u16::try_from(*n)
            .ok()
            .filter(|&port| port != 0)
            .map(PortRange::single)
            .ok_or_else(|| bad(n.to_string(), "a port must be within 1..=65535")),
        // A single port is written as a number, so text must be a range.
        RawPort::Text(text) if !text.contains('-') => Err(bad(
            text.clone(),
            "write a range as \"a-b\", a single port as a number",
        )),
        RawPort::Text(text) => PortRange::parse(text).map_err(|e| match e {
            PortRangeError::Port { text, error } => match error {
                PortError::Missing | PortError::NotANumber => {
                    bad(text, "expected a port number or a range written \"a-b\"")
                }
                PortError::Zero | PortError::TooLarge => {
                    bad(text, "a port must be within 1..=65535")
                }
            },
            PortRangeError::Backwards => bad(text.clone(), "the range starts after it ends"),
        }),
    }
}

/// No identified service may belong to two rules of one protocol, and none may be empty.
fn check_services(rules: &[Rule]) -> Result<(), RulesError> {
    let mut seen: BTreeMap<(Proto, &str), &str> = BTreeMap::new();
    for rule in rules {
        for service in &rule.services {
            if service.trim().is_empty() {
                return Err(RulesError::EmptyField {
                    rule: rule.id.clone(),
                    field: "services",
                });
            }
            if let Some(first) = seen.insert((rule.proto, service), &rule.id) {
                return Err(RulesError::ServiceTwice {
                    service: service.clone(),
                    proto: rule.proto,
                    first: first.to_owned(),
                    second: rule.id.clone(),
                });
            }
        }
    }
    Ok(())
}

fn build_index(rules: &[Rule]) -> Result<Vec<(Proto, u16, u16, usize)>, RulesError> {
    let mut index: Vec<(Proto, u16, u16, usize)> = rules
        .iter()
        .enumerate()
        .flat_map(|(i, rule)| {
            rule.ports
                .iter()
                .map(move |r| (rule.proto, r.start, r.end, i))
        })
        .collect();
    index.sort_unstable();
    // Sorted by start, any overlap shows up between neighbours.
    let id = |i: usize| rules.get(i).map(|rule| rule.id.clone()).unwrap_or_default();
    for pair in index.windows(2) {
        if let [(proto, _, end, first), (next_proto, start, _, second)] = *pair
            && proto == next_proto
            && start <= end
        {
            return Err(RulesError::Overlap {
                port: start,
                proto,
                first: id(first),
                second: id(second),
            });
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: &str =
        "[sources.SS]\ntitle = \"Shadowserver\"\nurl = \"https://example.org/ss\"\n";

    fn rule(id: &str, proto: &str, ports: &str, why: &str, sources: &str) -> String {
        format!(
            "[[rule]]\nid = \"{id}\"\nservice = \"S\"\nproto = \"{proto}\"\nports = {ports}\n\
             severity = \"high\"\nwhy = {why}\nsummary = \"s\"\nfix = \"f\"\nsources = {sources}\n"
        )
    }

    fn load(rules: &[String]) -> Result<RuleSet, RulesError> {
        RuleSet::load(&format!("{}\n{SOURCES}", rules.concat()))
    }

    #[test]
    fn minimal_table_loads() {
        let set = load(&[
            rule(
                "a",
                "tcp",
                "[1, \"10-20\", 65535]",
                "[\"cleartext\"]",
                "[\"SS\"]",
            ),
            rule("b", "udp", "[10]", "[\"amplification\"]", "[\"SS detail\"]"),
            rule("c", "tcp", "[21]", "[]", "[\"SS\"]"),
        ])
        .unwrap();
        assert_eq!(set.rules().len(), 3);
        assert_eq!(set.lookup(15, Proto::Tcp).map(|r| r.id.as_str()), Some("a"));
        assert_eq!(set.lookup(10, Proto::Udp).map(|r| r.id.as_str()), Some("b"));
        assert_eq!(set.lookup(21, Proto::Tcp).map(|r| r.id.as_str()), Some("c"));
        assert_eq!(set.lookup(22, Proto::Tcp), None);
        assert_eq!(
            set.lookup(65535, Proto::Tcp).map(|r| r.id.as_str()),
            Some("a")
        );
        assert_eq!(
            set.source("SS detail").map(|s| s.url.as_str()),
            Some("https://example.org/ss")
        );
    }

    #[test]
    fn duplicate_id_is_rejected() {
        let err = load(&[
            rule("a", "tcp", "[1]", "[]", "[\"SS\"]"),
            rule("a", "tcp", "[2]", "[]", "[\"SS\"]"),
        ])
        .unwrap_err();
        assert_eq!(err, RulesError::DuplicateId { id: "a".into() });
    }

    #[test]
    fn overlapping_claims_are_rejected() {
        let err = load(&[
            rule("a", "tcp", "[\"5900-5910\"]", "[]", "[\"SS\"]"),
            rule("b", "tcp", "[80, 5905]", "[]", "[\"SS\"]"),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            RulesError::Overlap {
                port: 5905,
                proto: Proto::Tcp,
                first: "a".into(),
                second: "b".into()
            }
        );
        assert!(err.to_string().contains("5905/tcp"), "{err}");
        // The same port within one rule counts too.
        let err = load(&[rule("a", "tcp", "[80, \"79-81\"]", "[]", "[\"SS\"]")]).unwrap_err();
        assert!(
            matches!(err, RulesError::Overlap { port: 80, .. }),
            "{err:?}"
        );
        // The same number over the other protocol is fine.
        load(&[
            rule("a", "tcp", "[514]", "[]", "[\"SS\"]"),
            rule("b", "udp", "[514]", "[]", "[\"SS\"]"),
        ])
        .unwrap();
    }

    #[test]
    fn bad_ports_are_rejected() {
        for ports in [
            "[0]",
            "[65536]",
            "[-1]",
            "[\"20-10\"]",
            "[\"0-10\"]",
            "[\"10-70000\"]",
            "[\"80\"]",
            "[\"a-b\"]",
            "[\"1-2-3\"]",
        ] {
            let err = load(&[rule("a", "tcp", ports, "[]", "[\"SS\"]")]).unwrap_err();
            assert!(
                matches!(err, RulesError::BadPort { .. }),
                "{ports}: {err:?}"
            );
            assert!(
                err.to_string().starts_with("rule \"a\" has a bad port"),
                "{err}"
            );
        }
        let err = load(&[rule("a", "tcp", "[]", "[]", "[\"SS\"]")]).unwrap_err();
        assert_eq!(err, RulesError::NoPorts { rule: "a".into() });
    }

    #[test]
    fn unknown_source_is_rejected() {
        let err = load(&[rule("a", "tcp", "[1]", "[]", "[\"SS\", \"NOPE 1.2\"]")]).unwrap_err();
        assert_eq!(
            err,
            RulesError::UnknownSource {
                rule: "a".into(),
                reference: "NOPE 1.2".into(),
                id: "NOPE".into(),
                known: "SS".into(),
            }
        );
        let err = load(&[rule("a", "tcp", "[1]", "[]", "[]")]).unwrap_err();
        assert_eq!(err, RulesError::NoSources { rule: "a".into() });
    }

    #[test]
    fn amplification_on_tcp_is_rejected() {
        let err = load(&[rule("a", "tcp", "[1]", "[\"amplification\"]", "[\"SS\"]")]).unwrap_err();
        assert_eq!(err, RulesError::AmplificationOnTcp { rule: "a".into() });
    }

    #[test]
    fn malformed_tables_are_rejected() {
        for (id, what) in [
            ("", "empty"),
            ("Exposed", "upper case"),
            ("a--b", "double"),
            ("-a", "lead"),
        ] {
            let err = load(&[rule(id, "tcp", "[1]", "[]", "[\"SS\"]")]).unwrap_err();
            assert!(matches!(err, RulesError::BadId { .. }), "{what}: {err:?}");
        }
        let parse_errors = [
            rule("a", "sctp", "[1]", "[]", "[\"SS\"]"),
            rule("a", "tcp", "[1]", "[\"scary\"]", "[\"SS\"]"),
            rule("a", "tcp", "[1.5]", "[]", "[\"SS\"]"),
            format!(
                "{}colour = \"red\"\n",
                rule("a", "tcp", "[1]", "[]", "[\"SS\"]")
            ),
            "[[rule]]\nid = \"a\"\n".to_owned(),
        ];
        for text in parse_errors {
            let err = load(std::slice::from_ref(&text)).unwrap_err();
            assert!(matches!(err, RulesError::Parse { .. }), "{text}: {err:?}");
        }
        let empty_fix =
            rule("a", "tcp", "[1]", "[]", "[\"SS\"]").replace("fix = \"f\"", "fix = \" \"");
        assert_eq!(
            load(&[empty_fix]).unwrap_err(),
            RulesError::EmptyField {
                rule: "a".into(),
                field: "fix"
            }
        );
        let bad_url =
            RuleSet::load("[sources.X]\ntitle = \"t\"\nurl = \"example.org\"\n").unwrap_err();
        assert!(
            matches!(bad_url, RulesError::BadSource { .. }),
            "{bad_url:?}"
        );
    }
}
