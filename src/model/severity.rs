//! How serious a finding is ([`Severity`]) and why a service is risky ([`Why`]): closed sets
//! with their names, parsing and one-line meanings, shared by the rules, the audit, its renderers
//! and the command line.
//!
//! Plain data: the arithmetic that lowers a severity with exposure is `analyze::rules`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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

    /// The level `steps` above this one, stopping at [`Severity::Critical`].
    #[must_use]
    pub fn raised(self, steps: u8) -> Severity {
        let mut level = self;
        for _ in 0..steps {
            level = match level {
                Severity::Info => Severity::Low,
                Severity::Low => Severity::Medium,
                Severity::Medium => Severity::High,
                Severity::High | Severity::Critical => Severity::Critical,
            };
        }
        level
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

#[cfg(test)]
mod tests {
    use super::*;
    use Severity::*;

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
}
