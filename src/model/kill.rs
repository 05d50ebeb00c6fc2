//! What `portscope kill` is told to do, as values: the signal to send first ([`Signal`], one
//! table of the signals it accepts and names) and how long to wait for the port
//! ([`parse_timeout`]), both constructors of domain values used as clap value parsers; and what
//! the platform answers when it is asked to pin or signal a process ([`SignalError`]).
//!
//! Plain data: nothing here sends a signal or reads the system, and nothing here depends on the
//! operating system's signal numbers (the backend maps a [`Signal`] to its own number).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The signals `kill` sends, by the name it accepts and prints (without `SIG`), with their
/// numbers in the *Linux numbering* (the POSIX numbers 1, 2, 3, 9, 14 and 15, and Linux's 10
/// and 12 for USR1 and USR2), which `--signal` accepts on every platform. Only signals whose
/// default action ends the process: stopping, continuing or ignored signals (STOP, TSTP, CONT,
/// WINCH, CHLD, …) would leave kill waiting for a port that is never freed.
const SIGNALS: [(&str, u8, Signal); 8] = [
    ("HUP", 1, Signal::Hup),
    ("INT", 2, Signal::Int),
    ("QUIT", 3, Signal::Quit),
    ("KILL", 9, Signal::Kill),
    ("USR1", 10, Signal::Usr1),
    ("USR2", 12, Signal::Usr2),
    ("TERM", 15, Signal::Term),
    ("ALRM", 14, Signal::Alrm),
];

/// A signal `kill` may send: one whose default action ends the process. The backend maps it to
/// the operating system's number (`collect::unix::signal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// SIGHUP.
    Hup,
    /// SIGINT.
    Int,
    /// SIGQUIT.
    Quit,
    /// SIGKILL, what `--force` escalates to.
    Kill,
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2.
    Usr2,
    /// SIGTERM, the default.
    Term,
    /// SIGALRM.
    Alrm,
}

impl Signal {
    /// Every signal `kill` accepts, in the order of its messages.
    pub const ALL: [Signal; 8] = [
        Signal::Hup,
        Signal::Int,
        Signal::Quit,
        Signal::Kill,
        Signal::Usr1,
        Signal::Usr2,
        Signal::Term,
        Signal::Alrm,
    ];

    /// The name without `SIG`: `TERM`.
    #[must_use]
    pub fn name(self) -> &'static str {
        SIGNALS
            .iter()
            .find(|&&(_, _, sig)| sig == self)
            .map_or("?", |&(name, _, _)| name)
    }

    /// Its number in the Linux numbering (what `--signal` accepts as a number). The number sent
    /// is the operating system's, chosen by the backend.
    #[must_use]
    pub fn linux_number(self) -> u8 {
        SIGNALS
            .iter()
            .find(|&&(_, _, sig)| sig == self)
            .map_or(0, |&(_, number, _)| number)
    }
}

impl FromStr for Signal {
    type Err = String;

    /// Parse `--signal`: a name (`TERM`, `SIGTERM`, `kill`, case ignored) or a number in the
    /// Linux numbering.
    ///
    /// # Errors
    /// A message naming the value, and what would be accepted.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        if let Ok(n) = t.parse::<i32>() {
            return SIGNALS
                .iter()
                .find(|&&(_, number, _)| i32::from(number) == n)
                .map(|&(_, _, sig)| sig)
                .ok_or_else(|| {
                    let nums: Vec<String> = SIGNALS
                        .iter()
                        .map(|(name, number, _)| format!("{number} ({name})"))
                        .collect();
                    format!(
                        "signal '{t}' would not end the process: give one of {}",
                        nums.join(", ")
                    )
                });
        }
        let upper = t.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        SIGNALS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(_, _, sig)| sig)
            .ok_or_else(|| {
                let names: Vec<&str> = SIGNALS.iter().map(|(n, _, _)| *n).collect();
                format!(
                    "unknown signal '{t}': give a number or one of {}",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for Signal {
    /// `SIGTERM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIG{}", self.name())
    }
}

/// Why the platform could not pin or signal a process: typed, so no caller reads an errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalError {
    /// No process has that pid any more (ESRCH on Unix).
    Gone,
    /// Not permitted (EPERM on Unix), with the operating system's message.
    NotPermitted(String),
    /// This platform cannot pin or signal processes.
    Unsupported,
    /// Any other failure, with the operating system's message.
    Other(String),
}

/// The operating system a decision is made for: which pids are never processes one may end
/// differs (see `analyze::kill::policy::protected`). Plain data; [`Os::CURRENT`] is fixed at
/// compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux.
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Os {
    /// The system portscope was built for (other Unix systems count as Linux: pid 0 and 1).
    pub const CURRENT: Os = if cfg!(windows) {
        Os::Windows
    } else if cfg!(target_os = "macos") {
        Os::MacOs
    } else {
        Os::Linux
    };
}

impl Default for Os {
    /// [`Os::CURRENT`].
    fn default() -> Os {
        Os::CURRENT
    }
}

/// Parse `--timeout`: `5` (seconds), `2s`, `1.5s`, `500ms`, `1m`; at most one day.
///
/// # Errors
/// A message naming the value.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "'{t}' is not a duration: write seconds (5, 1.5s), milliseconds (500ms) or minutes (1m)"
        )
    };
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let number = number.trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let secs = value * scale;
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("'{t}' is too long: at most one day"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        let cases: &[(&str, Result<Signal, &str>)] = &[
            ("TERM", Ok(Signal::Term)),
            ("sigkill", Ok(Signal::Kill)),
            ("9", Ok(Signal::Kill)),
            (" hup ", Ok(Signal::Hup)),
            ("10", Ok(Signal::Usr1)),
            ("12", Ok(Signal::Usr2)),
            ("14", Ok(Signal::Alrm)),
            ("Alrm", Ok(Signal::Alrm)),
            ("0", Err("'0'")),
            ("65", Err("would not end")),
            ("19", Err("would not end")),
            ("STOP", Err("unknown signal 'STOP'")),
            ("BOGUS", Err("'BOGUS'")),
        ];
        for (input, want) in cases {
            let got = input.parse::<Signal>();
            match want {
                Ok(sig) => assert_eq!(got, Ok(*sig), "{input}"),
                Err(part) => assert!(got.unwrap_err().contains(part), "{input}"),
            }
        }
        assert_eq!(
            "19".parse::<Signal>().unwrap_err(),
            "signal '19' would not end the process: give one of 1 (HUP), 2 (INT), 3 (QUIT), \
             9 (KILL), 10 (USR1), 12 (USR2), 15 (TERM), 14 (ALRM)"
        );
        assert_eq!(
            "x".parse::<Signal>().unwrap_err(),
            "unknown signal 'x': give a number or one of HUP, INT, QUIT, KILL, USR1, USR2, TERM, ALRM"
        );
    }

    /// Every signal accepted by name is accepted by its Linux number and named back the same
    /// way; every variant is in the table once.
    #[test]
    fn one_table_both_ways() {
        for (name, number, sig) in SIGNALS {
            let by_name: Signal = name.parse().unwrap();
            let by_number: Signal = number.to_string().parse().unwrap();
            assert_eq!(by_name, sig);
            assert_eq!(by_number, sig);
            assert_eq!(sig.name(), name);
            assert_eq!(sig.linux_number(), number);
            assert_eq!(sig.to_string(), format!("SIG{name}"));
            assert_eq!(format!("SIG{name}").parse::<Signal>(), Ok(sig));
        }
        let table: Vec<Signal> = SIGNALS.iter().map(|&(_, _, sig)| sig).collect();
        assert_eq!(table, Signal::ALL);
        assert_eq!(Signal::Term.to_string(), "SIGTERM");
        assert_eq!(Signal::Kill.linux_number(), 9);
    }

    #[test]
    fn timeouts() {
        let ok: &[(&str, u64)] = &[
            ("5", 5000),
            ("2s", 2000),
            ("500ms", 500),
            ("1.5s", 1500),
            ("0", 0),
            ("1m", 60_000),
            (" 3 ", 3000),
        ];
        for (input, ms) in ok {
            assert_eq!(
                parse_timeout(input).map(|d| d.as_millis()),
                Ok(u128::from(*ms)),
                "{input}"
            );
        }
        for bad in ["", "s", "5h", "-1", "five", "1e3", "99999999"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
        assert!(parse_timeout("five").unwrap_err().contains("'five'"));
    }
}
