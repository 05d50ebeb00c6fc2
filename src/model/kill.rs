//! What `portscope kill` is told to do, as values: the signal to send first ([`Signal`], one
//! table of the signals it accepts and names) and how long to wait for the port
//! ([`parse_timeout`]). Both are constructors of domain values used as clap value parsers.
//!
//! Plain data: nothing here sends a signal or reads the system.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The signals `kill` sends, by the name it accepts and prints (without `SIG`). Only signals
/// whose default action ends the process: stopping, continuing or ignored signals (STOP, TSTP,
/// CONT, WINCH, CHLD, …) would leave kill waiting for a port that is never freed.
const SIGNALS: [(&str, i32); 8] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("TERM", libc::SIGTERM),
    ("ALRM", libc::SIGALRM),
];

/// A signal `kill` may send: one whose default action ends the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

impl Signal {
    /// SIGTERM, the default.
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// SIGKILL, what `--force` escalates to.
    pub const KILL: Signal = Signal(libc::SIGKILL);

    /// The signal number.
    #[must_use]
    pub fn number(self) -> i32 {
        self.0
    }
}

impl FromStr for Signal {
    type Err = String;

    /// Parse `--signal`: a name (`TERM`, `SIGTERM`, `kill`, case ignored) or a number.
    ///
    /// # Errors
    /// A message naming the value, and what would be accepted.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        if let Ok(n) = t.parse::<i32>() {
            return if SIGNALS.iter().any(|&(_, sig)| sig == n) {
                Ok(Signal(n))
            } else {
                let nums: Vec<String> = SIGNALS
                    .iter()
                    .map(|(n, sig)| format!("{sig} ({n})"))
                    .collect();
                Err(format!(
                    "signal '{t}' would not end the process: give one of {}",
                    nums.join(", ")
                ))
            };
        }
        let upper = t.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        SIGNALS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, sig)| Signal(sig))
            .ok_or_else(|| {
                let names: Vec<&str> = SIGNALS.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown signal '{t}': give a number or one of {}",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for Signal {
    /// `SIGTERM`, or `signal N` for a number without a name here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match SIGNALS.iter().find(|&&(_, sig)| sig == self.0) {
            Some((name, _)) => write!(f, "SIG{name}"),
            None => write!(f, "signal {}", self.0),
        }
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

    fn parse_signal(text: &str) -> Result<i32, String> {
        text.parse::<Signal>().map(Signal::number)
    }

    fn signal_name(sig: i32) -> String {
        Signal(sig).to_string()
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM"), Ok(libc::SIGTERM));
        assert_eq!(parse_signal("sigkill"), Ok(libc::SIGKILL));
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal(" hup "), Ok(libc::SIGHUP));
        assert!(parse_signal("0").unwrap_err().contains("'0'"));
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("STOP").is_err());
        assert!(parse_signal("19").unwrap_err().contains("would not end"));
        assert!(parse_signal("BOGUS").unwrap_err().contains("'BOGUS'"));
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(40), "signal 40");
    }

    /// Every signal accepted by name is accepted by number and named back the same way.
    #[test]
    fn one_table_both_ways() {
        for (name, number) in SIGNALS {
            let by_name: Signal = name.parse().unwrap();
            let by_number: Signal = number.to_string().parse().unwrap();
            assert_eq!(by_name, by_number);
            assert_eq!(by_name.to_string(), format!("SIG{name}"));
            assert_eq!(format!("SIG{name}").parse::<Signal>(), Ok(by_name));
        }
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
        assert_eq!(Signal::KILL.number(), libc::SIGKILL);
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
