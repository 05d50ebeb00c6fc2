//! The audit rule table: which (port, protocol) pairs are risky when a listener is reachable from
//! beyond the machine, how severe each is, why, how to fix it and where the facts come from. Also
//! the arithmetic that lowers a rule's severity by exposure class, and the generator of the rule
//! reference `docs/rules.md`.
//!
//! The rules are data (`rules.toml`, compiled in) and are validated when loaded. This module is
//! pure: it must not read the system, classify addresses or decide a socket's exposure (that is
//! [`crate::analyze::exposure`]), and must not print; its only rendering is the Markdown reference.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::{AddrClass, Proto};

/// The text of the built-in rule table.
const BUILTIN_TEXT: &str = include_str!("../rules.toml");

/// How serious a finding is. Ordered so that `Critical` is the greatest.
///
/// The levels follow Shadowserver's published scale; see `docs/rules.md` for their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational only.
    Info,
    /// A deviation from best practice.
    Low,
    /// Usable for DDoS reflection, or an unencrypted service that asks for a login.
    Medium,
    /// A service meant to stay internal that accepts logins or requests from anywhere.
    High,
    /// Actively exploited, pre-authentication code execution, or sensitive data open to change.
    Critical,
}

impl Severity {
    /// Every level, from the most to the least severe.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// Lower-case name as used in the rule file, the CLI and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// What the level means, in one line (for help texts and the rule reference).
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            Severity::Critical => {
                "actively exploited, remote code execution before any login, or sensitive data \
                 open to reading and change"
            }
            Severity::High => {
                "a service meant to stay internal that accepts logins or requests from anywhere; \
                 some data can leak"
            }
            Severity::Medium => {
                "can be abused for DDoS reflection, or an unencrypted service that asks for a login"
            }
            Severity::Low => "a deviation from best practice",
            Severity::Info => "informational only",
        }
    }

    /// The level `steps` below this one, stopping at [`Severity::Info`].
    #[must_use]
    pub fn lowered(self, steps: u8) -> Severity {
        let mut level = self;
        for _ in 0..steps {
            level = match level {
                Severity::Critical => Severity::High,
                Severity::High => Severity::Medium,
                Severity::Medium => Severity::Low,
                Severity::Low | Severity::Info => Severity::Info,
            };
        }
        level
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Severity`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity \"{input}\": expected one of critical, high, medium, low, info")]
pub struct ParseSeverityError {
    /// The text that was not a severity.
    pub input: String,
}

impl FromStr for Severity {
    type Err = ParseSeverityError;

    /// Parse a level name, ignoring case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Severity::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ParseSeverityError {
                input: s.to_owned(),
            })
    }
}

/// Why a service is risky when exposed: the reason codes of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Why {
    /// Answers without any login in its default configuration.
    Unauthenticated,
    /// Credentials or sessions cross the network unencrypted.
    Cleartext,
    /// Mass-exploited, with self-spreading (wormable) exploits known.
    Wormable,
    /// A UDP reflector: small spoofed requests get much larger replies. UDP rules only.
    Amplification,
    /// A remote administration or control surface.
    RemoteAdmin,
    /// Reveals or lets strangers change stored data or details of the host.
    DataExposure,
    /// Relays other people's traffic, which then appears to come from this host.
    OpenProxy,
}

impl Why {
    /// Every code, in the order the rule reference lists them.
    pub const ALL: [Why; 7] = [
        Why::Unauthenticated,
        Why::Cleartext,
        Why::Wormable,
        Why::Amplification,
        Why::RemoteAdmin,
        Why::DataExposure,
        Why::OpenProxy,
    ];

    /// The kebab-case code as used in the rule file and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Unauthenticated => "unauthenticated",
            Why::Cleartext => "cleartext",
            Why::Wormable => "wormable",
            Why::Amplification => "amplification",
            Why::RemoteAdmin => "remote-admin",
            Why::DataExposure => "data-exposure",
            Why::OpenProxy => "open-proxy",
        }
    }

    /// What the code means, in one line.
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            Why::Unauthenticated => "answers without any login in its default configuration",
            Why::Cleartext => "passwords or sessions cross the network unencrypted",
            Why::Wormable => "mass-exploited; self-spreading exploits are known",
            Why::Amplification => {
                "a DDoS reflector: small spoofed UDP requests get much larger replies (UDP rules only)"
            }
            Why::RemoteAdmin => "a remote administration or control surface",
            Why::DataExposure => "reveals, or lets strangers change, stored data or host details",
            Why::OpenProxy => {
                "relays other people's traffic, which then appears to come from this host"
            }
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::model::PortRange;

/// One audit rule: a risky service on some ports of one protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable kebab-case identifier, e.g. `exposed-telnet` (the SARIF `ruleId`).
    pub id: String,
    /// Human name of the service.
    pub service: String,
    /// The protocol the rule applies to; TCP and UDP meanings of a port are separate rules.
    pub proto: Proto,
    /// The ports the rule claims, in file order.
    pub ports: Vec<PortRange>,
    /// Base severity, for a listener reachable on a public address.
    pub severity: Severity,
    /// Why the service is risky.
    pub why: Vec<Why>,
    /// Why it matters, in one or two sentences.
    pub summary: String,
    /// What to do about it.
    pub fix: String,
    /// Source references: a source id (a key of [`RuleSet::sources`]), optionally followed by a
    /// space and a detail such as a report name or benchmark section (`"CIS-DEB12 2.1.19"`).
    pub sources: Vec<String>,
}

impl Rule {
    /// True when the rule covers `port` over `proto`.
    #[must_use]
    pub fn matches(&self, port: u16, proto: Proto) -> bool {
        self.proto == proto && self.ports.iter().any(|range| range.contains(port))
    }

    /// The ports as text, e.g. `5900-5903/tcp` or `80, 443/tcp`.
    #[must_use]
    pub fn ports_label(&self) -> String {
        let ports: Vec<String> = self.ports.iter().map(PortRange::to_string).collect();
        format!("{}/{}", ports.join(", "), self.proto)
    }
}

/// A cited source: a title and where to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// What the source is.
    pub title: String,
    /// Where to read it.
    pub url: String,
    /// Further addresses (mirrors, secondary reports).
    #[serde(default)]
    pub also: Vec<String>,
}

/// The source id of a rule's source reference: the text before the first space.
#[must_use]
pub fn source_id(reference: &str) -> &str {
    reference.split_once(' ').map_or(reference, |(id, _)| id)
}

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

/// A validated rule table with a lookup index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    rules: Vec<Rule>,
    sources: BTreeMap<String, Source>,
    /// Every claimed range as (proto, start, end, rule index), sorted, never overlapping.
    index: Vec<(Proto, u16, u16, usize)>,
}

/// The empty table [`RuleSet::builtin`] falls back to if the compiled-in table were invalid.
static EMPTY: RuleSet = RuleSet {
    rules: Vec::new(),
    sources: BTreeMap::new(),
    index: Vec::new(),
};

/// The built-in table, parsed on first use.
static BUILTIN: OnceLock<Result<RuleSet, RulesError>> = OnceLock::new();

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
    #[serde(default)]
    sources: BTreeMap<String, Source>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    service: String,
    proto: Proto,
    ports: Vec<RawPort>,
    severity: Severity,
    #[serde(default)]
    why: Vec<Why>,
    summary: String,
    fix: String,
    sources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPort {
    Number(i64),
    Text(String),
}

impl RuleSet {
    /// The rule table compiled into portscope, parsed once.
    ///
    /// The table is validated by the unit tests, so in a released build it always loads; should it
    /// ever fail, this returns an empty table rather than panic (see [`RuleSet::try_builtin`]).
    #[must_use]
    pub fn builtin() -> &'static RuleSet {
        RuleSet::try_builtin().unwrap_or(&EMPTY)
    }

    /// The rule table compiled into portscope, or why it does not load.
    ///
    /// # Errors
    ///
    /// The error of [`RuleSet::load`] on the compiled-in text; a test guarantees there is none.
    pub fn try_builtin() -> Result<&'static RuleSet, &'static RulesError> {
        BUILTIN.get_or_init(|| RuleSet::load(BUILTIN_TEXT)).as_ref()
    }

    /// Parse and validate a rule table in the format of `src/analyze/rules.toml`.
    ///
    /// # Errors
    ///
    /// [`RulesError`] when the text is not TOML of the rule file's shape, or when a check fails:
    /// ids unique and kebab-case, text fields non-empty, ports in `1..=65535` with ranges written
    /// `"a-b"` and `a <= b`, every source reference naming a `[sources]` id, `amplification` only on
    /// UDP rules, and no (port, proto) claimed twice.
    pub fn load(text: &str) -> Result<RuleSet, RulesError> {
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
        Ok(RuleSet {
            rules,
            sources: raw.sources,
            index,
        })
    }

    /// The rule claiming `port` over `proto`, if any.
    #[must_use]
    pub fn lookup(&self, port: u16, proto: Proto) -> Option<&Rule> {
        // The index is sorted by (proto, start) and free of overlaps, so the only candidate is the
        // last range starting at or before the port.
        let after = self
            .index
            .partition_point(|&(p, start, _, _)| (p, start) <= (proto, port));
        let &(p, _, end, rule) = self.index.get(after.checked_sub(1)?)?;
        if p == proto && port <= end {
            self.rules.get(rule)
        } else {
            None
        }
    }

    /// Every rule, in file order.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id, if any.
    #[must_use]
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.id == id)
    }

    /// Every cited source by id.
    #[must_use]
    pub fn sources(&self) -> &BTreeMap<String, Source> {
        &self.sources
    }

    /// The source a reference such as `"CIS-DEB12 2.1.19"` points to.
    #[must_use]
    pub fn source(&self, reference: &str) -> Option<&Source> {
        self.sources.get(source_id(reference))
    }
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
        severity: raw.severity,
        why: raw.why,
        summary: raw.summary,
        fix: raw.fix,
        sources: raw.sources,
    })
}

fn parse_port(rule: &str, raw: &RawPort) -> Result<PortRange, RulesError> {
    let bad = |value: String, reason| RulesError::BadPort {
        rule: rule.to_owned(),
        value,
        reason,
    };
    let number = |text: &str| -> Result<u16, RulesError> {
        let n: i64 = text.trim().parse().map_err(|_| {
            bad(
                text.to_owned(),
                "expected a port number or a range written \"a-b\"",
            )
        })?;
        port_number(n).ok_or_else(|| bad(text.to_owned(), "a port must be within 1..=65535"))
    };
    match raw {
        RawPort::Number(n) => {
            let port = port_number(*n)
                .ok_or_else(|| bad(n.to_string(), "a port must be within 1..=65535"))?;
            Ok(PortRange {
                start: port,
                end: port,
            })
        }
        RawPort::Text(text) => {
            let Some((a, b)) = text.split_once('-') else {
                return Err(bad(
                    text.clone(),
                    "write a range as \"a-b\", a single port as a number",
                ));
            };
            let (start, end) = (number(a)?, number(b)?);
            if start > end {
                return Err(bad(text.clone(), "the range starts after it ends"));
            }
            Ok(PortRange { start, end })
        }
    }
}

fn port_number(n: i64) -> Option<u16> {
    u16::try_from(n).ok().filter(|&port| port != 0)
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

/// How many steps an exposure class lowers a rule's severity, or `None` when a socket of that
/// class gives no finding at all.
///
/// Multicast counts like link-local: a socket bound to a group address only receives datagrams
/// sent to that group, and multicast is rarely routed beyond the local network.
#[must_use]
pub fn exposure_steps(exposure: AddrClass) -> Option<u8> {
    match exposure {
        AddrClass::Public => Some(0),
        AddrClass::Private | AddrClass::Documentation | AddrClass::Reserved => Some(1),
        AddrClass::LinkLocal | AddrClass::Multicast => Some(2),
        AddrClass::Loopback => None,
    }
}

/// Severity of a finding once exposure is known.
///
/// The base holds for `Public`. `Private`, `Documentation` and `Reserved` lower it one step
/// ("reachable from the local network"); `LinkLocal` and `Multicast` two steps. `Loopback`, and
/// `None` (a wildcard bind that currently covers no address), give no finding. Lowering stops at
/// [`Severity::Info`]: a risky service listening beyond loopback is still reported, the user
/// filters by level.
#[must_use]
pub fn effective_severity(base: Severity, exposure: Option<AddrClass>) -> Option<Severity> {
    exposure
        .and_then(exposure_steps)
        .map(|steps| base.lowered(steps))
}

/// The exposure classes in the order the rule reference lists them.
const CLASSES: [AddrClass; 7] = [
    AddrClass::Public,
    AddrClass::Private,
    AddrClass::Documentation,
    AddrClass::Reserved,
    AddrClass::LinkLocal,
    AddrClass::Multicast,
    AddrClass::Loopback,
];

/// The full text of `docs/rules.md`: severity scale, exposure arithmetic, why codes, every rule
/// and every source.
#[must_use]
pub fn render_markdown(set: &RuleSet) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_markdown(set, &mut out);
    out
}

fn write_markdown(set: &RuleSet, out: &mut String) -> fmt::Result {
    let link = |reference: &str| match set.source(reference) {
        Some(source) => {
            let id = source_id(reference);
            let detail = reference.strip_prefix(id).unwrap_or_default();
            format!("[{id}]({}){detail}", source.url)
        }
        None => reference.to_owned(),
    };

    writeln!(out, "# Audit rule reference")?;
    writeln!(out)?;
    writeln!(
        out,
        "<!-- Generated from src/analyze/rules.toml by render_markdown in src/analyze/rules.rs. \
         Do not edit by hand: edit the TOML, then run\n     \
         PORTSCOPE_BLESS=1 cargo test --lib analyze::rules\n     to regenerate this file. -->"
    )?;
    writeln!(out)?;
    let count = |level| set.rules().iter().filter(|r| r.severity == level).count();
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|&level| format!("{} {level}", count(level)))
        .collect();
    writeln!(
        out,
        "`portscope audit` reports a finding when a listening socket matches one of the {} rules \
         below ({}) and is reachable from beyond the machine. A rule claims ports of one protocol: \
         TCP and UDP are separate rules because one number can name different services \
         (514/tcp is rsh, 514/udp is syslog). Ports without a rule give no finding.",
        set.rules().len(),
        counts.join(", ")
    )?;
    writeln!(out)?;

    writeln!(out, "## Severity scale")?;
    writeln!(out)?;
    writeln!(
        out,
        "The levels follow Shadowserver's published scale ({}). A rule's base severity is \
         Shadowserver's default for the matching report ({}) unless its summary says why it \
         differs.",
        link("SS-SEV"),
        link("SS")
    )?;
    writeln!(out)?;
    writeln!(out, "| severity | meaning |")?;
    writeln!(out, "|---|---|")?;
    for level in Severity::ALL {
        writeln!(out, "| {level} | {} |", level.meaning())?;
    }
    writeln!(out)?;

    writeln!(out, "## Exposure")?;
    writeln!(out)?;
    writeln!(
        out,
        "The base severity applies to a socket reachable on a public address: a wildcard bind on a \
         host with at least one global address, or a bind to a global address. Less exposure \
         lowers it: private, unique-local and shared (CGNAT) addresses by one step (\"reachable \
         from the local network\"), as do documentation and reserved addresses, which should not \
         be configured at all; link-local addresses by two steps; multicast group binds like \
         link-local, since multicast is rarely routed beyond the local network. A socket reachable \
         only on loopback gives no finding. Lowering stops at info, so a risky service listening \
         beyond loopback is always reported."
    )?;
    writeln!(out)?;
    write!(out, "| exposure | steps |")?;
    for level in Severity::ALL {
        write!(out, " {level} |")?;
    }
    writeln!(out)?;
    writeln!(out, "|---|---|{}", "---|".repeat(Severity::ALL.len()))?;
    for class in CLASSES {
        let steps =
            exposure_steps(class).map_or_else(|| "no finding".to_owned(), |s| s.to_string());
        write!(out, "| {} | {steps} |", class.as_str())?;
        for level in Severity::ALL {
            let cell = effective_severity(level, Some(class)).map_or("-", Severity::as_str);
            write!(out, " {cell} |")?;
        }
        writeln!(out)?;
    }
    writeln!(out)?;

    writeln!(out, "## Why codes")?;
    writeln!(out)?;
    writeln!(out, "| code | meaning |")?;
    writeln!(out, "|---|---|")?;
    for why in Why::ALL {
        writeln!(out, "| {why} | {} |", why.meaning())?;
    }
    writeln!(out)?;

    writeln!(out, "## Rules at a glance")?;
    writeln!(out)?;
    writeln!(out, "| rule | ports | service | severity | why |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    for rule in set.rules() {
        writeln!(
            out,
            "| [{id}](#{id}) | {} | {} | {} | {} |",
            rule.ports_label(),
            rule.service.replace('|', "\\|"),
            rule.severity,
            why_list(&rule.why),
            id = rule.id,
        )?;
    }
    writeln!(out)?;

    write_beyond_the_table(out)?;

    writeln!(out, "## Rules")?;
    for rule in set.rules() {
        writeln!(out)?;
        writeln!(out, "### {}", rule.id)?;
        writeln!(out)?;
        writeln!(
            out,
            "**{}** · {} · **{}** · {}",
            rule.ports_label(),
            rule.service,
            rule.severity,
            why_list(&rule.why)
        )?;
        writeln!(out)?;
        writeln!(out, "{}", rule.summary)?;
        writeln!(out)?;
        writeln!(out, "**Fix:** {}", rule.fix)?;
        writeln!(out)?;
        let sources: Vec<String> = rule.sources.iter().map(|r| link(r)).collect();
        writeln!(out, "**Sources:** {}", sources.join("; "))?;
    }
    writeln!(out)?;

    writeln!(out, "## Sources")?;
    writeln!(out)?;
    for (id, source) in set.sources() {
        write!(out, "- **{id}**: {}. <{}>", source.title, source.url)?;
        for url in &source.also {
            write!(out, ", <{url}>")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The audit checks that are not port rules: their ids and severities come from
/// [`crate::analyze::audit`], so the reference cannot drift from the code.
fn write_beyond_the_table(out: &mut String) -> fmt::Result {
    use crate::analyze::audit::{FORWARDERS, UNIDENTIFIED_PUBLIC_LISTENER, UNIDENTIFIED_SEVERITY};
    writeln!(out, "## Beyond the port table")?;
    writeln!(out)?;
    writeln!(
        out,
        "Three checks of `portscope audit` do not depend on a (port, protocol) row."
    )?;
    writeln!(out)?;
    writeln!(out, "### {UNIDENTIFIED_PUBLIC_LISTENER}")?;
    writeln!(out)?;
    writeln!(
        out,
        "**any port** · **{UNIDENTIFIED_SEVERITY}** (low when only missing privileges hide the \
         owner)"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "A listener reachable on a public address whose owning process cannot be identified: no \
         process holds it (a kernel service such as NFS or WireGuard, or a process in another PID \
         namespace), or its holder's file descriptors cannot be read even with privileges. \
         Something answers from the internet and nobody can be named for it. Without privileges \
         the finding is low and says to run as root. It is reported in addition to any port \
         rule the socket matches."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "**Fix:** identify the service (kernel modules, containers, `ss -ltunpe`), then stop it, \
         bind it to a private or loopback address, or allowlist it with a reason."
    )?;
    writeln!(out)?;
    writeln!(out, "### Loopback listeners with route_localnet")?;
    writeln!(out)?;
    writeln!(
        out,
        "A socket reachable only on loopback normally gives no finding. When \
         `net.ipv4.conf.<interface>.route_localnet=1` is set on any interface (`all` included), \
         packets to 127.0.0.0/8 arriving from outside are no longer dropped as martians, so a \
         neighbour on that link can reach IPv4 loopback listeners (Docker before 28.0 relied on \
         this for ports published to 127.0.0.1). A risky service on IPv4 loopback then gives a \
         finding of its port rule at two steps below the base severity, at least low, with a \
         note naming the interfaces. The fix is `route_localnet=0` unless a DNAT rule needs it."
    )?;
    writeln!(out)?;
    writeln!(out, "### Container port forwarders (a note)")?;
    writeln!(out)?;
    let names: Vec<String> = FORWARDERS.iter().map(|n| format!("`{n}`")).collect();
    writeln!(
        out,
        "A finding on a socket held by {} carries a note rather than a severity of its own: such \
         a listener stands for a published container port, whose traffic is DNATed in \
         PREROUTING and forwarded, so the host's INPUT rules (ufw, firewalld) never see it. \
         Filter in the DOCKER-USER chain, or publish to 127.0.0.1 only.",
        names.join(", ")
    )?;
    writeln!(out)?;
    Ok(())
}

fn why_list(why: &[Why]) -> String {
    if why.is_empty() {
        return "-".to_owned();
    }
    why.iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddrClass::*;
    use Severity::*;

    fn builtin() -> &'static RuleSet {
        match RuleSet::try_builtin() {
            Ok(set) => set,
            Err(e) => panic!("src/analyze/rules.toml does not load: {e}"),
        }
    }

    #[test]
    fn builtin_table_loads_and_validates() {
        let set = builtin();
        assert!(set.rules().len() >= 46, "only {} rules", set.rules().len());
        assert_eq!(RuleSet::builtin(), set);
        for rule in set.rules() {
            assert!(rule.id.starts_with("exposed-"), "{}", rule.id);
            for reference in &rule.sources {
                assert!(set.source(reference).is_some(), "{}: {reference}", rule.id);
            }
        }
        // Every declared source is cited somewhere.
        for id in set.sources().keys() {
            assert!(
                set.rules()
                    .iter()
                    .any(|r| r.sources.iter().any(|s| source_id(s) == id)),
                "source {id} is never cited"
            );
        }
    }

    #[test]
    fn builtin_rows() {
        use Proto::{Tcp, Udp};
        let rows: &[(u16, Proto, &str, Severity)] = &[
            (2375, Tcp, "exposed-docker-api", Critical),
            (2376, Tcp, "exposed-docker-api", Critical),
            (10250, Tcp, "exposed-kubelet", Critical),
            (10255, Tcp, "exposed-kubelet", Critical),
            (2379, Tcp, "exposed-etcd", Critical),
            (5555, Tcp, "exposed-adb", Critical),
            (4786, Tcp, "exposed-cisco-smart-install", Critical),
            (6443, Tcp, "exposed-kube-apiserver", High),
            (6379, Tcp, "exposed-redis", High),
            (11211, Tcp, "exposed-memcached-tcp", High),
            (11211, Udp, "exposed-memcached-udp", High),
            (27017, Tcp, "exposed-mongodb", High),
            (9300, Tcp, "exposed-elasticsearch", High),
            (3306, Tcp, "exposed-mysql", High),
            (5432, Tcp, "exposed-postgresql", High),
            (1433, Tcp, "exposed-mssql", High),
            (1434, Udp, "exposed-mssql-browser", High),
            (23, Tcp, "exposed-telnet", High),
            (514, Tcp, "exposed-rsh", High),
            (445, Tcp, "exposed-smb", High),
            (137, Udp, "exposed-netbios", High),
            (139, Tcp, "exposed-netbios-session", High),
            (135, Tcp, "exposed-msrpc", High),
            (3389, Tcp, "exposed-rdp-tcp", High),
            (3389, Udp, "exposed-rdp-udp", High),
            (177, Udp, "exposed-xdmcp", High),
            (623, Udp, "exposed-ipmi", High),
            (161, Udp, "exposed-snmp", High),
            (389, Udp, "exposed-cldap", High),
            (389, Tcp, "exposed-ldap", High),
            (1900, Udp, "exposed-ssdp", High),
            (427, Udp, "exposed-slp-udp", High),
            (427, Tcp, "exposed-slp-tcp", Medium),
            (631, Udp, "exposed-cups-browsed", High),
            (631, Tcp, "exposed-ipp", High),
            (2049, Tcp, "exposed-nfs-tcp", High),
            (2049, Udp, "exposed-nfs-udp", High),
            (25672, Tcp, "exposed-erlang-epmd", High),
            (8088, Tcp, "exposed-hadoop", High),
            (5060, Udp, "exposed-sip-udp", High),
            (502, Tcp, "exposed-modbus", High),
            (47808, Udp, "exposed-bacnet", High),
            (1883, Tcp, "exposed-mqtt", Medium),
            (61616, Tcp, "exposed-activemq", Medium),
            (123, Udp, "exposed-ntp", Medium),
            (53, Udp, "exposed-dns-udp", Medium),
            (53, Tcp, "exposed-dns-tcp", Low),
            (5353, Udp, "exposed-mdns", Medium),
            (19, Udp, "exposed-chargen", Medium),
            (13, Udp, "exposed-echo-daytime", Medium),
            (111, Tcp, "exposed-rpcbind-tcp", Medium),
            (69, Udp, "exposed-tftp", Medium),
            (21, Tcp, "exposed-ftp", Medium),
            (873, Tcp, "exposed-rsync", Medium),
            (3128, Tcp, "exposed-http-proxy", Medium),
            (7547, Tcp, "exposed-cwmp", Medium),
            (22, Tcp, "exposed-ssh", Low),
            (25, Tcp, "exposed-smtp", Low),
            (80, Tcp, "exposed-http", Info),
            (443, Tcp, "exposed-http", Info),
        ];
        let set = builtin();
        for &(port, proto, id, severity) in rows {
            let rule = set.lookup(port, proto);
            assert_eq!(
                rule.map(|r| (r.id.as_str(), r.severity)),
                Some((id, severity)),
                "{port}/{proto}"
            );
        }
    }

    #[test]
    fn same_number_different_protocol() {
        let set = builtin();
        assert!(
            set.lookup(514, Proto::Udp).is_none(),
            "514/udp is syslog, not rsh"
        );
        assert!(set.lookup(23, Proto::Udp).is_none());
        assert!(set.lookup(161, Proto::Tcp).is_none());
        let memcached_udp = set.lookup(11211, Proto::Udp).map(|r| r.why.clone());
        assert!(memcached_udp.is_some_and(|why| why.contains(&Why::Amplification)));
        let memcached_tcp = set.lookup(11211, Proto::Tcp).map(|r| r.why.clone());
        assert!(memcached_tcp.is_some_and(|why| !why.contains(&Why::Amplification)));
        assert!(
            set.rules()
                .iter()
                .all(|r| r.proto == Proto::Udp || !r.why.contains(&Why::Amplification))
        );
    }

    #[test]
    fn range_lookup() {
        let set = builtin();
        let id = |port, proto| set.lookup(port, proto).map(|r| r.id.as_str());
        assert_eq!(id(5899, Proto::Tcp), None);
        assert_eq!(id(5900, Proto::Tcp), Some("exposed-vnc"));
        assert_eq!(id(5901, Proto::Tcp), Some("exposed-vnc"));
        assert_eq!(id(5903, Proto::Tcp), Some("exposed-vnc"));
        assert_eq!(id(5904, Proto::Tcp), None);
        assert_eq!(id(6000, Proto::Tcp), Some("exposed-x11"));
        assert_eq!(id(6010, Proto::Tcp), Some("exposed-x11"));
        assert_eq!(id(6063, Proto::Tcp), Some("exposed-x11"));
        assert_eq!(id(6064, Proto::Tcp), None);
        assert_eq!(id(6010, Proto::Udp), None);
        assert_eq!(id(512, Proto::Tcp), Some("exposed-rsh"));
        assert_eq!(id(138, Proto::Udp), Some("exposed-netbios"));
        assert_eq!(id(139, Proto::Udp), None);
        assert_eq!(id(1, Proto::Tcp), None);
        assert_eq!(id(65535, Proto::Udp), None);
        assert!(
            set.rules()
                .iter()
                .all(|r| r.ports.iter().all(|p| r.matches(p.end, r.proto)))
        );
    }

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

    #[test]
    fn severity_order_names_and_parsing() {
        assert!(Critical > High && High > Medium && Medium > Low && Low > Info);
        for level in Severity::ALL {
            assert_eq!(level.as_str().parse::<Severity>(), Ok(level));
            assert_eq!(level.to_string(), level.as_str());
            assert_eq!(level.as_str().to_uppercase().parse::<Severity>(), Ok(level));
        }
        assert_eq!(" High ".parse::<Severity>(), Ok(High));
        let err = "severe".parse::<Severity>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown severity \"severe\": expected one of critical, high, medium, low, info"
        );
        assert_eq!(Critical.lowered(0), Critical);
        assert_eq!(Critical.lowered(3), Low);
        assert_eq!(High.lowered(9), Info);
    }

    #[test]
    fn effective_severity_for_every_level_and_class() {
        // Columns: the base levels Critical, High, Medium, Low, Info.
        let table: &[(Option<AddrClass>, [Option<Severity>; 5])] = &[
            (
                Some(Public),
                [
                    Some(Critical),
                    Some(High),
                    Some(Medium),
                    Some(Low),
                    Some(Info),
                ],
            ),
            (
                Some(Private),
                [Some(High), Some(Medium), Some(Low), Some(Info), Some(Info)],
            ),
            (
                Some(Documentation),
                [Some(High), Some(Medium), Some(Low), Some(Info), Some(Info)],
            ),
            (
                Some(Reserved),
                [Some(High), Some(Medium), Some(Low), Some(Info), Some(Info)],
            ),
            (
                Some(LinkLocal),
                [Some(Medium), Some(Low), Some(Info), Some(Info), Some(Info)],
            ),
            (
                Some(Multicast),
                [Some(Medium), Some(Low), Some(Info), Some(Info), Some(Info)],
            ),
            (Some(Loopback), [None; 5]),
            (None, [None; 5]),
        ];
        assert_eq!(table.len(), CLASSES.len() + 1, "every class and None");
        for (class, expected) in table {
            for (base, want) in Severity::ALL.into_iter().zip(expected) {
                assert_eq!(
                    effective_severity(base, *class),
                    *want,
                    "{base} on {class:?}"
                );
            }
        }
    }

    #[test]
    fn markdown_mentions_every_rule_and_source() {
        let set = builtin();
        let text = render_markdown(set);
        for rule in set.rules() {
            assert!(
                text.contains(&format!("\n### {}\n", rule.id)),
                "{}",
                rule.id
            );
            assert!(text.contains(&rule.fix), "{}", rule.id);
        }
        for source in set.sources().values() {
            assert!(text.contains(&source.url), "{}", source.url);
        }
        assert!(
            text.contains("[CIS-DEB12](https://github.com/ansible-lockdown/DEBIAN12-CIS) 2.1.19")
        );
        assert!(text.contains("| link_local | 2 | medium | low | info | info | info |"));
        assert!(text.contains("| loopback | no finding | - | - | - | - | - |"));
        assert!(text.contains("\n### unidentified-public-listener\n"));
        assert!(text.contains("route_localnet") && text.contains("`docker-proxy`"));
    }

    /// docs/rules.md must be exactly what `render_markdown` makes of the built-in table.
    /// `PORTSCOPE_BLESS=1` rewrites the file instead of comparing.
    #[test]
    fn docs_rules_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md");
        let expected = render_markdown(builtin());
        if std::env::var_os("PORTSCOPE_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(path, &expected).unwrap();
            return;
        }
        let regenerate = "regenerate it with: PORTSCOPE_BLESS=1 cargo test --lib analyze::rules";
        let actual = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}; {regenerate}"));
        if actual != expected {
            let line = actual
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
            panic!(
                "docs/rules.md is out of date with src/analyze/rules.toml (first difference at line \
                 {}); {regenerate}",
                line + 1
            );
        }
    }
}
