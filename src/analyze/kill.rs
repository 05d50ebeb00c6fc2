//! The policy of `portscope kill`: whom it must never signal, whom only with `--force`, and the
//! parsers of `--signal` and `--timeout`.
//!
//! Pure: it decides from data and never sends a signal or reads the system (sending lives in
//! `collect::signal`).

use std::time::Duration;

use crate::analyze::who::{OwnerDetails, restarting_unit};

/// Why a holder is not signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// pid 0 is not a process (the kernel's idle task / swapper).
    PidZero,
    /// pid 1 is the service manager: signalling it stops the machine or is ignored.
    Init,
    /// portscope's own process.
    OwnPid,
    /// A kernel thread cannot be signalled meaningfully.
    KernelThread,
    /// A container runtime's port forwarder; the container should be stopped instead (`--force`
    /// overrides).
    Forwarder(String),
    /// A process inside a container; the runtime may restart it (`--force` overrides).
    Container(String),
    /// A process of a `.service` unit systemd may restart (`--force` overrides).
    ServiceUnit(String),
}

impl Refusal {
    /// True when `--force` lets the kill go ahead anyway.
    #[must_use]
    pub fn overridable(&self) -> bool {
        matches!(
            self,
            Refusal::Forwarder(_) | Refusal::Container(_) | Refusal::ServiceUnit(_)
        )
    }

    /// One sentence for the user.
    #[must_use]
    pub fn reason(&self) -> String {
        match self {
            Refusal::PidZero => "pid 0 is not a process".to_string(),
            Refusal::Init => {
                "pid 1 is the init process / service manager; never signalled".to_string()
            }
            Refusal::OwnPid => "it is portscope itself".to_string(),
            Refusal::KernelThread => "it is a kernel thread".to_string(),
            Refusal::Forwarder(kind) => format!(
                "it is a container port forwarder ({kind}): stop the container instead (or use --force)"
            ),
            Refusal::Container(runtime) => format!(
                "it runs in a {runtime} container, which its runtime may restart: stop the container instead (or use --force)"
            ),
            Refusal::ServiceUnit(unit) => format!(
                "it belongs to {unit}, which systemd may restart: stop the unit instead (or use --force)"
            ),
        }
    }
}

/// Decide whether a holder may be signalled. Hard refusals (pid 0, pid 1, portscope itself, a
/// kernel thread) hold even with `--force`; the others only without it.
#[must_use]
pub fn refusal(
    pid: u32,
    self_pid: u32,
    is_kernel_thread: bool,
    owner: Option<&OwnerDetails>,
    force: bool,
) -> Option<Refusal> {
    let hard = match pid {
        0 => Some(Refusal::PidZero),
        1 => Some(Refusal::Init),
        p if p == self_pid => Some(Refusal::OwnPid),
        _ if is_kernel_thread || owner.is_some_and(|o| o.kernel_thread) => {
            Some(Refusal::KernelThread)
        }
        _ => None,
    };
    if hard.is_some() {
        return hard;
    }
    let soft = owner.and_then(|o| {
        if let Some(f) = &o.forwarder {
            Some(Refusal::Forwarder(f.kind.clone()))
        } else if let Some(c) = &o.container {
            Some(Refusal::Container(c.runtime.clone()))
        } else {
            restarting_unit(o).map(|u| Refusal::ServiceUnit(u.to_string()))
        }
    });
    soft.filter(|_| !force)
}

/// Parse `--signal`: a name (`TERM`, `SIGTERM`, `kill`, case ignored) or a number 1–64.
///
/// # Errors
/// A message naming the value.
pub fn parse_signal(text: &str) -> Result<i32, String> {
    // Only signals whose default action ends the process: stopping, continuing or ignored
    // signals (STOP, TSTP, CONT, WINCH, CHLD, …) would leave kill waiting for a port that is
    // never freed.
    const NAMES: [(&str, i32); 8] = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("TERM", libc::SIGTERM),
        ("ALRM", libc::SIGALRM),
    ];
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if NAMES.iter().any(|&(_, sig)| sig == n) {
            Ok(n)
        } else {
            let nums: Vec<String> = NAMES
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
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, sig)| sig)
        .ok_or_else(|| {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown signal '{t}': give a number or one of {}",
                names.join(", ")
            )
        })
}

/// The name of a signal number for messages (`SIGTERM`), or `signal N`.
#[must_use]
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGTERM => "SIGTERM",
        libc::SIGALRM => "SIGALRM",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGWINCH => "SIGWINCH",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// Parse `--timeout`: `5` (seconds), `2s`, `1.5s`, `500ms`, `1m`.
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
    use crate::analyze::owner::{Container, Forwarder};

    fn owner(pid: u32) -> OwnerDetails {
        OwnerDetails {
            pid,
            name: Some("x".into()),
            cmdline: vec![],
            exe: None,
            uid: None,
            user: None,
            start_time: None,
            age_seconds: None,
            parents: vec![],
            cgroup: None,
            unit: None,
            unit_user_manager: None,
            socket_unit: None,
            socket_activated: false,
            container: None,
            forwarder: None,
            kernel_thread: false,
        }
    }

    #[test]
    fn refusals() {
        let me = 500;
        let plain = owner(42);
        let mut service = owner(43);
        service.unit = Some("nginx.service".into());
        let mut scope = owner(44);
        scope.unit = Some("session-2.scope".into());
        let mut proxy = owner(45);
        proxy.forwarder = Some(Forwarder {
            kind: "docker-proxy".into(),
            container_address: None,
            container_port: None,
        });
        let mut boxed = owner(46);
        boxed.container = Some(Container {
            runtime: "docker".into(),
            id: "a".repeat(64),
            name: None,
            pod_uid: None,
        });
        let mut kthread = owner(47);
        kthread.kernel_thread = true;
        type Case<'a> = (u32, bool, Option<&'a OwnerDetails>, bool, Option<Refusal>);
        let cases: Vec<Case> = vec![
            (42, false, Some(&plain), false, None),
            (42, false, None, false, None),
            (0, false, None, true, Some(Refusal::PidZero)),
            (1, false, None, true, Some(Refusal::Init)),
            (1, false, Some(&plain), false, Some(Refusal::Init)),
            (me, false, None, true, Some(Refusal::OwnPid)),
            (2, true, None, true, Some(Refusal::KernelThread)),
            (47, false, Some(&kthread), true, Some(Refusal::KernelThread)),
            (
                43,
                false,
                Some(&service),
                false,
                Some(Refusal::ServiceUnit("nginx.service".into())),
            ),
            (43, false, Some(&service), true, None),
            (44, false, Some(&scope), false, None),
            (
                45,
                false,
                Some(&proxy),
                false,
                Some(Refusal::Forwarder("docker-proxy".into())),
            ),
            (45, false, Some(&proxy), true, None),
            (
                46,
                false,
                Some(&boxed),
                false,
                Some(Refusal::Container("docker".into())),
            ),
            (46, false, Some(&boxed), true, None),
        ];
        for (pid, kt, o, force, want) in cases {
            assert_eq!(
                refusal(pid, me, kt, o, force),
                want,
                "pid {pid} force {force}"
            );
        }
        assert!(!Refusal::Init.overridable());
        assert!(Refusal::ServiceUnit("a.service".into()).overridable());
        assert!(
            Refusal::Forwarder("pasta".into())
                .reason()
                .contains("--force")
        );
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
