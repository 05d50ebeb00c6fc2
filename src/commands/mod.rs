//! Subcommands: each composes collect → analyze → render for one task and returns what the
//! exit code should say. [`Env`] carries what every command gets from outside: the options,
//! the output style decided once, and the collector over the platform `main` chose (a recorded
//! one in tests), so a command never picks its own data source.
//!
//! This module holds what the commands share (the environment, stderr notes, and in
//! `investigate.rs` the composition `who` and `kill` share); it must not hold a command's
//! logic, and commands must not import each other.

use std::cell::OnceCell;
use std::ffi::OsStr;
use std::io::{IsTerminal, Write};

use std::net::IpAddr;

use crate::analyze::handshake;
use crate::analyze::identify::OwnerTable;
use crate::analyze::services::ServiceDb;
use crate::cli::{Cli, ColorChoice, Command, GlobalArgs};
use crate::collect::{Collector, Platform};
use crate::model::{
    HandshakeLimits, InterfaceAddr, NetnsSelection, Phases, PidNamespace, SocketEntry, UnixTime,
};
use crate::render::{Format, ReportFormat, Style};

pub mod audit;
pub mod check;
pub mod explain;
mod investigate;
pub mod kill;
pub mod list;
pub mod reference;
pub mod watch;
pub mod who;

pub use crate::model::Outcome;

/// Run the command `cli` names (the listing when it names none).
///
/// # Errors
/// The command's error (the socket table cannot be read, an input file is bad, output cannot
/// be written).
pub fn run(
    cli: &Cli,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    match &cli.command {
        None => list::run(&cli.list, env, out, err),
        Some(Command::List(args)) => list::run(args, env, out, err),
        Some(Command::Audit(args)) => audit::run(args, env, out, err),
        Some(Command::Who(args)) => who::run(args, env, out, err),
        Some(Command::Kill(args)) => kill::run(args, env, out, err),
        Some(Command::Check(args)) => check::run(args, env, out, err),
        Some(Command::Explain(args)) => explain::run(args, env, out, err),
        Some(Command::Watch(args)) => watch::run(args, env, out, err),
        Some(Command::Man(args)) => reference::run_man(args, out),
        Some(Command::Completions(args)) => reference::run_completions(args, out),
    }
}

/// The format of a one-port report (`who`, `kill`, `check`, `explain`). The command line
/// already refuses the others there; this keeps each command's match exact.
///
/// # Errors
/// For csv and prometheus, naming the command and the formats it has.
pub fn report_format(format: Format, command: &str) -> anyhow::Result<ReportFormat> {
    format.report().ok_or_else(|| {
        anyhow::anyhow!("`--format {format}` is not available for `{command}`: use table or json")
    })
}

/// Where a listing or an audit goes: stdout, or with `--output FILE` a buffer that replaces
/// FILE atomically once the command has succeeded (`collect::output::publish_file`, mode 0644).
/// When a `--format prometheus` run fails, FILE gets the failure's metrics
/// (`portscope_run_success 0`) so an alert sees it, and the error is returned as it was.
///
/// # Errors
/// The command's error, or FILE cannot be written (one line naming it).
pub fn with_output(
    path: Option<&std::path::Path>,
    format: Format,
    command: &'static str,
    out: &mut dyn Write,
    run: impl FnOnce(&mut dyn Write) -> anyhow::Result<Outcome>,
) -> anyhow::Result<Outcome> {
    use anyhow::Context;
    let Some(path) = path else {
        return run(out);
    };
    let publish = |bytes: &[u8]| {
        crate::collect::output::publish_file(path, bytes)
            .with_context(|| format!("cannot write output file {}", path.display()))
    };
    let mut buffer = Vec::new();
    match run(&mut buffer) {
        Ok(outcome) => {
            publish(&buffer)?;
            Ok(outcome)
        }
        Err(e) => {
            if format == Format::Prometheus {
                let mut metrics = Vec::new();
                let now = UnixTime::from_system_time(std::time::SystemTime::now());
                crate::render::prometheus::write_failure(&mut metrics, command, now)?;
                // The run's error is the one to report; a file that cannot be written either
                // is said after it.
                if let Err(write) = publish(&metrics) {
                    return Err(e.context(format!("{write:#}")));
                }
            }
            Err(e)
        }
    }
}

/// Everything a command needs from the environment, decided once (ripgrep's "high-level args"),
/// and the platform it reads and acts through (bandwhich's injected `OsInputOutput`).
#[derive(Debug)]
pub struct Env {
    /// Rendering style for stdout.
    pub style: Style,
    /// Print phase durations on stderr (`PORTSCOPE_TIMINGS=1`), for docs/performance.md.
    pub timings: bool,
    /// The platform with its caches: every read of the system goes through it.
    pub collector: Collector,
    /// The service table, built once on first use ([`Env::services`]).
    pub services: OnceCell<ServiceDb>,
    /// The network namespaces the platform reads (`--netns`, `--all-netns`).
    pub netns: NetnsSelection,
}

impl Env {
    /// Decide colour ([`use_color`]) and width from the flags, `NO_COLOR`, `TERM` and whether
    /// stdout is a terminal; phase timings from `PORTSCOPE_TIMINGS` (`1`, or any value but
    /// empty and `0`). Every read of the system goes through `platform`.
    #[must_use]
    pub fn detect(global: &GlobalArgs, platform: Box<dyn Platform>, netns: NetnsSelection) -> Self {
        let stdout_is_terminal = std::io::stdout().is_terminal();
        let color = use_color(
            global.color,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
            stdout_is_terminal,
        );
        colored::control::set_override(color);
        let width = if stdout_is_terminal {
            // A terminal that reports 0 columns (no size set) is not fitted to.
            crate::collect::terminal_columns()
        } else {
            None
        };
        let timings =
            std::env::var_os("PORTSCOPE_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0");
        Env {
            style: Style { color, width },
            timings,
            collector: Collector::new(platform),
            services: OnceCell::new(),
            netns,
        }
    }

    /// The platform, for host facts, the probe and signalling.
    #[must_use]
    pub fn platform(&self) -> &dyn Platform {
        self.collector.platform()
    }

    /// The service table: the built-in tables plus the system's services text when readable
    /// (read once per collector; parsed here, where collect and analyze meet), built on the
    /// first call and shared by every later one.
    #[must_use]
    pub fn services(&self) -> &ServiceDb {
        self.services
            .get_or_init(|| match self.collector.services_text() {
                Some(text) => ServiceDb::with_etc_services(text),
                None => ServiceDb::builtin(),
            })
    }
}

/// Whether stdout gets colour. `--color always` and `--color never` decide alone; `auto`
/// colours a terminal unless `NO_COLOR` is set to a non-empty value (no-color.org) or `TERM` is
/// `dumb` (a terminal that cannot show escape sequences: Emacs shells, some CI consoles).
#[must_use]
pub fn use_color(
    choice: ColorChoice,
    no_color: Option<&OsStr>,
    term: Option<&OsStr>,
    stdout_is_terminal: bool,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let no_color = no_color.is_some_and(|v| !v.is_empty());
            let dumb = term.is_some_and(|t| t == "dumb");
            stdout_is_terminal && !no_color && !dumb
        }
    }
}

/// Print phase durations on stderr, one `portscope: timing: NAME MS ms` line each.
///
/// # Errors
/// When stderr cannot be written.
pub fn print_timings(err: &mut dyn Write, phases: &Phases) -> std::io::Result<()> {
    for (name, took) in &phases.0 {
        writeln!(
            err,
            "portscope: timing: {name} {:.2} ms",
            took.as_secs_f64() * 1000.0
        )?;
    }
    Ok(())
}

/// `--identify`: greet each TCP listener of `entries` on this machine's own address (loopback
/// for a wildcard bind) and record what it answered; the greetings are planned and read by
/// `analyze::handshake`, sent by `collect::handshake`.
pub fn identify(entries: &mut [SocketEntry], interfaces: &[InterfaceAddr]) {
    let owners = OwnerTable::builtin();
    let local: Vec<IpAddr> = interfaces.iter().map(|i| i.addr).collect();
    let limits = HandshakeLimits::default();
    let (which, targets): (Vec<usize>, Vec<_>) = entries
        .iter()
        .enumerate()
        .filter_map(|(i, entry)| handshake::target(entry, &local, owners).map(|t| (i, t)))
        .unzip();
    let replies = crate::collect::handshake::shake_all(&targets, &local, &limits);
    for ((i, target), replies) in which.into_iter().zip(&targets).zip(replies) {
        if let Some(entry) = entries.get_mut(i) {
            let seen = handshake::interpret(target.address, &replies, &limits);
            handshake::apply(entry, seen, owners);
        }
    }
}

/// Print warnings on stderr, one line each, sanitized: they quote paths and file contents.
///
/// # Errors
/// When stderr cannot be written.
pub fn print_warnings(err: &mut dyn Write, warnings: &[String]) -> std::io::Result<()> {
    for w in warnings {
        writeln!(err, "portscope: warning: {}", crate::render::sanitize(w))?;
    }
    Ok(())
}

/// Say on stderr, in one line, that the pids shown are another PID namespace's (`--proc-root`);
/// nothing when `ns` is `None` (portscope's own).
///
/// # Errors
/// When stderr cannot be written.
pub fn print_pid_namespace(err: &mut dyn Write, ns: Option<&PidNamespace>) -> std::io::Result<()> {
    match ns {
        Some(ns) => writeln!(
            err,
            "portscope: note: {}",
            crate::render::sanitize(&ns.to_string())
        ),
        None => Ok(()),
    }
}

#[cfg(test)]
mod output_tests {
    use super::*;

    fn file(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("out.prom");
        std::fs::write(&path, "old\n").unwrap();
        path
    }

    #[test]
    fn output_replaces_the_file_and_leaves_stdout_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir);
        let mut stdout = Vec::new();
        let outcome = with_output(Some(&path), Format::Csv, "list", &mut stdout, |out| {
            out.write_all(b"a,b\r\n")?;
            Ok(Outcome::NotFound)
        })
        .unwrap();
        assert_eq!(outcome, Outcome::NotFound, "the exit code is the command's");
        assert!(stdout.is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), b"a,b\r\n");
        // Without --output, stdout.
        with_output(None, Format::Csv, "list", &mut stdout, |out| {
            out.write_all(b"x")?;
            Ok(Outcome::Found)
        })
        .unwrap();
        assert_eq!(stdout, b"x");
    }

    #[test]
    fn a_failed_run_leaves_its_metrics_or_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir);
        let failing = |out: &mut dyn Write| -> anyhow::Result<Outcome> {
            out.write_all(b"half")?;
            anyhow::bail!("cannot read the socket table")
        };
        let err =
            with_output(Some(&path), Format::Json, "audit", &mut Vec::new(), failing).unwrap_err();
        assert_eq!(format!("{err:#}"), "cannot read the socket table");
        assert_eq!(std::fs::read(&path).unwrap(), b"old\n", "json: untouched");

        let err = with_output(
            Some(&path),
            Format::Prometheus,
            "audit",
            &mut Vec::new(),
            failing,
        )
        .unwrap_err();
        assert_eq!(format!("{err:#}"), "cannot read the socket table");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("portscope_run_success{command=\"audit\"} 0\n"),
            "{text}"
        );
        assert!(!text.contains("half"), "{text}");

        // A file that cannot be written: named, after a successful run and after a failed one.
        let nowhere = dir.path().join("missing/out.prom");
        let err = with_output(
            Some(&nowhere),
            Format::Prometheus,
            "list",
            &mut Vec::new(),
            |_| Ok(Outcome::Found),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").starts_with("cannot write output file "),
            "{err:#}"
        );
        let err = with_output(
            Some(&nowhere),
            Format::Prometheus,
            "list",
            &mut Vec::new(),
            failing,
        )
        .unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("missing/out.prom")
                && message.ends_with("cannot read the socket table"),
            "{message}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_decision() {
        use ColorChoice::{Always, Auto, Never};
        let (set, empty) = (Some(OsStr::new("1")), Some(OsStr::new("")));
        let (xterm, dumb) = (Some(OsStr::new("xterm-256color")), Some(OsStr::new("dumb")));
        // (flag, NO_COLOR, TERM, stdout is a terminal) → colour
        let cases = [
            (Auto, None, xterm, true, true),
            (Auto, None, None, true, true),
            (Auto, None, xterm, false, false),
            (Auto, set, xterm, true, false),
            (Auto, empty, xterm, true, true),
            (Auto, None, dumb, true, false),
            (Auto, None, Some(OsStr::new("dumb-not")), true, true),
            (Always, set, dumb, false, true),
            (Always, None, dumb, true, true),
            (Never, None, xterm, true, false),
        ];
        for (flag, no_color, term, tty, want) in cases {
            assert_eq!(
                use_color(flag, no_color, term, tty),
                want,
                "{flag:?} NO_COLOR={no_color:?} TERM={term:?} terminal={tty}"
            );
        }
    }

    /// Commands run on recorded data: the platform `main` would build is replaced by
    /// [`Recorded`], so these tests see no kernel, no `/proc` and no `/etc/services`.
    mod recorded {
        use clap::Parser;

        use super::super::*;
        use crate::collect::recorded::Recorded;
        use crate::model::{
            Family, FdRef, InterfaceAddr, OwnerScan, ProcIdentity, ProcessInfo, Proto, RawSocket,
            Snapshot, SocketState, UnixTime,
        };

        fn socket(proto: Proto, state: SocketState, local: &str, inode: u64) -> RawSocket {
            let (addr, port) = local.rsplit_once(':').unwrap();
            let local_addr: std::net::IpAddr = addr.trim_matches(['[', ']']).parse().unwrap();
            RawSocket {
                proto,
                family: if local_addr.is_ipv4() {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                },
                state,
                local_addr,
                local_port: port.parse().unwrap(),
                remote_addr: None,
                remote_port: None,
                uid: Some(1000),
                inode: Some(inode),
                bound_ifindex: None,
                v6only: None,
                netns: None,
            }
        }

        /// A host with a web app on 127.0.0.1:8080 (pid 700), a game server on UDP 65000
        /// (pid 700 too), one connection to the app, and a name for 65000 only in its
        /// services text.
        fn host() -> Recorded {
            let mut connection = socket(Proto::Tcp, SocketState::Established, "127.0.0.1:8080", 3);
            connection.remote_addr = Some("127.0.0.1".parse().unwrap());
            connection.remote_port = Some(40000);
            let mut game = socket(Proto::Udp, SocketState::Unconnected, "[::]:65000", 2);
            game.v6only = Some(false);
            let snapshot = Snapshot {
                sockets: vec![
                    socket(Proto::Tcp, SocketState::Listen, "127.0.0.1:8080", 1),
                    game,
                    connection,
                ],
                owners: OwnerScan {
                    by_inode: [(1, 5), (2, 6), (3, 7)]
                        .into_iter()
                        .map(|(inode, fd)| {
                            (
                                inode,
                                vec![FdRef {
                                    pid: 700,
                                    fd: Some(fd),
                                }],
                            )
                        })
                        .collect(),
                    processes_scanned: 1,
                    performed: true,
                    ..OwnerScan::default()
                },
                processes: [(
                    700,
                    ProcessInfo {
                        name: Some("app".into()),
                        cmdline: ["/usr/bin/app".into(), "--serve".into()].into(),
                        exe: Some("/usr/bin/app".into()),
                        uid: Some(1000),
                        ppid: Some(1),
                        start_time: Some(1_700_000_000),
                        ..ProcessInfo::unknown(700)
                    },
                )]
                .into_iter()
                .collect(),
                users: [(1000, Some("alice".into()))].into_iter().collect(),
                interfaces: vec![
                    InterfaceAddr {
                        addr: "127.0.0.1".parse().unwrap(),
                        index: Some(1),
                        name: "lo".into(),
                    },
                    InterfaceAddr {
                        addr: "192.168.1.10".parse().unwrap(),
                        index: Some(2),
                        name: "eth0".into(),
                    },
                ],
                privileged: true,
                ..Snapshot::default()
            };
            Recorded {
                services: Some("my-game 65000/udp\n".into()),
                hostname: Some("web1".into()),
                ..Recorded::new(snapshot)
            }
        }

        /// Run `args` as `main` would, on `platform`; return stdout, stderr and the outcome.
        fn run_on(platform: Recorded, args: &[&str]) -> (String, String, Outcome) {
            let cli = Cli::check(Cli::try_parse_from(args).unwrap()).unwrap();
            let env = Env {
                style: Style::plain(),
                timings: false,
                collector: Collector::new(Box::new(platform)),
                services: OnceCell::new(),
                netns: crate::model::NetnsSelection::Own,
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let outcome = run(&cli, &env, &mut out, &mut err).unwrap();
            (
                String::from_utf8(out).unwrap(),
                String::from_utf8(err).unwrap(),
                outcome,
            )
        }

        #[test]
        fn the_service_table_is_built_once() {
            let env = Env {
                style: Style::plain(),
                timings: false,
                collector: Collector::new(Box::new(host())),
                services: OnceCell::new(),
                netns: crate::model::NetnsSelection::Own,
            };
            assert!(std::ptr::eq(env.services(), env.services()));
        }

        #[test]
        fn list_json_from_a_recorded_snapshot() {
            let now = || UnixTime::from_system_time(std::time::SystemTime::now());
            let before = now();
            let (out, err, outcome) = run_on(host(), &["portscope", "--json"]);
            let after = now();
            assert_eq!(outcome, Outcome::Found);
            assert_eq!(err, "");
            // The time the snapshot was taken is the clock's: read it, check it, then pin the
            // rest of the document byte for byte.
            let line = out.lines().nth(3).unwrap_or_default();
            let taken = line
                .strip_prefix("  \"taken_at\": \"")
                .and_then(|l| l.strip_suffix("\","))
                .unwrap_or_else(|| panic!("no taken_at line: {out}"));
            let taken = UnixTime::parse_rfc3339(taken).unwrap();
            assert!(before <= taken && taken <= after, "{taken:?}");
            let out = out.replacen(line, "  \"taken_at\": \"TAKEN_AT\",", 1);
            assert_eq!(out, LIST_JSON, "{out}");
        }

        #[test]
        fn list_table_of_every_state() {
            let (out, err, outcome) = run_on(host(), &["portscope", "list", "--all"]);
            assert_eq!(outcome, Outcome::Found);
            assert_eq!(err, "");
            assert_eq!(
                out,
                "\
PROTO  STATE        ADDRESS     PORT   REMOTE           SERVICE   EXPOSURE          PID  PROCESS  USER   COMMAND
tcp    listen       127.0.0.1   8080                    http-alt  loopback          700  app      alice  /usr/bin/app --serve
tcp    established  127.0.0.1   8080   127.0.0.1:40000  http-alt  loopback          700  app      alice  /usr/bin/app --serve
udp    unconnected  [::] v4+v6  65000                   my-game   private via eth0  700  app      alice  /usr/bin/app --serve
",
                "{out}"
            );
        }

        #[test]
        fn kill_signals_through_the_platform() {
            let mut platform = host();
            // The identity `kill` re-checks before it signals.
            platform.identities.insert(
                700,
                ProcIdentity {
                    ns: Some(4_026_531_836),
                    ns_pid: Some(700),
                    start_ticks: Some(42),
                },
            );
            let signals = std::sync::Arc::clone(&platform.signals);
            let (out, err, outcome) = run_on(
                platform,
                &["portscope", "kill", "8080/tcp", "--yes", "--timeout", "0"],
            );
            // Recorded sockets never go away: signalled, but still in use.
            assert_eq!(outcome, Outcome::NotFound);
            assert_eq!(
                *signals.lock().unwrap(),
                [(700, crate::model::Signal::Term)]
            );
            assert_eq!(err, "", "{err}");
            // The report's "started … ago" depends on the clock; the decisions do not.
            assert!(
                out.starts_with("Port 8080/tcp is in use: 2 socket(s), 1 owning process(es).\n"),
                "{out}"
            );
            assert!(
                out.ends_with(
                    "\n\nSent SIGTERM to pid 700 (app).\nPort 8080/tcp is still in use after 0ns, \
                     held by pid 700 (add --force to escalate to SIGKILL).\n"
                ),
                "{out}"
            );
        }

        /// The listing of [`host`] as JSON: the listeners only (the connection needs `--all`),
        /// the UDP name from the services text, exposure from the recorded interfaces.
        const LIST_JSON: &str = r#"{
  "schema_version": 1,
  "host": "web1",
  "taken_at": "TAKEN_AT",
  "sockets": [
    {
      "proto": "tcp",
      "family": "ipv4",
      "local_address": "127.0.0.1",
      "local_port": 8080,
      "remote_address": null,
      "remote_port": null,
      "state": "listen",
      "dual_stack": null,
      "interface": null,
      "uid": 1000,
      "user": "alice",
      "inode": 1,
      "processes": [
        {
          "pid": 700,
          "fds": [
            5
          ],
          "name": "app",
          "cmdline": [
            "/usr/bin/app",
            "--serve"
          ],
          "exe": "/usr/bin/app",
          "uid": 1000,
          "user": "alice",
          "ppid": 1,
          "start_time": 1700000000
        }
      ],
      "owner_unknown_reason": null,
      "service": "http-alt",
      "service_source": [
        "port"
      ],
      "port_range": "registered",
      "exposure": "loopback",
      "exposure_address": "127.0.0.1",
      "exposure_interface": "lo",
      "wildcard": false,
      "netns": null
    },
    {
      "proto": "udp",
      "family": "ipv6",
      "local_address": "::",
      "local_port": 65000,
      "remote_address": null,
      "remote_port": null,
      "state": "unconnected",
      "dual_stack": true,
      "interface": null,
      "uid": 1000,
      "user": "alice",
      "inode": 2,
      "processes": [
        {
          "pid": 700,
          "fds": [
            6
          ],
          "name": "app",
          "cmdline": [
            "/usr/bin/app",
            "--serve"
          ],
          "exe": "/usr/bin/app",
          "uid": 1000,
          "user": "alice",
          "ppid": 1,
          "start_time": 1700000000
        }
      ],
      "owner_unknown_reason": null,
      "service": "my-game",
      "service_source": [
        "port"
      ],
      "port_range": "dynamic",
      "exposure": "private",
      "exposure_address": "192.168.1.10",
      "exposure_interface": "eth0",
      "wildcard": true,
      "netns": null
    }
  ],
  "pid_namespace": null,
  "warnings": []
}
"#;
    }
}
