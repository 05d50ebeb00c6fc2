//! Command-line arguments (clap derive). Values are parsed and validated here, so a bad input
//! fails before anything is collected, with one line naming it.
//!
//! This module only describes and parses arguments; it does not read the system.

use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use std::time::Duration;

use crate::collect::{Backend, OwnerScanMode};
use crate::model::Severity;
use crate::model::{
    AddrClass, PortRange, PortSpec, Proto, Signal, SocketQuery, SocketState, UserSpec,
    parse_exposure, parse_port_list, parse_port_spec, parse_state, parse_timeout,
};
use crate::model::{CheckTarget, ExplainQuery, NetnsSelection, NetnsTarget, parse_connect_timeout};
use crate::render::Format;

/// What is listening here, who holds a port, and what is exposed.
#[derive(Debug, Parser)]
#[command(
    name = "portscope",
    version,
    about = "What is listening on this machine, who holds a port, and what is exposed.",
    long_about = "What is listening on this machine, who holds a port, and what is exposed.\n\n\
                  Without a subcommand, portscope lists every listening TCP socket and every \
                  bound UDP socket with the processes that own them (same as `portscope list`).",
    after_help = "Exit codes: 0 when something matched, 1 when nothing did, 2 on error."
)]
pub struct Cli {
    /// Subcommand; the listening view when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Arguments of the default (list) view.
    #[command(flatten)]
    pub list: ListArgs,
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
}

impl Cli {
    /// Parse the process arguments and check what clap cannot: options of the default view may
    /// not be combined with a subcommand (`portscope -t who 80`), while `--color` and
    /// `--proc-root` go anywhere.
    ///
    /// # Errors
    /// A clap error, rendered by the caller like any usage error.
    pub fn parse_checked() -> Result<Cli, clap::Error> {
        Self::check(Self::try_parse()?)
    }

    /// The check of [`Cli::parse_checked`] on already-parsed arguments.
    ///
    /// # Errors
    /// When options of the default view come with a subcommand, or `--json` with a `--format`
    /// other than `json`.
    pub fn check(cli: Cli) -> Result<Cli, clap::Error> {
        let (json, format) = match &cli.command {
            None => (cli.list.json, cli.list.format),
            Some(Command::List(a)) => (a.json, a.format),
            Some(Command::Who(a)) => (a.json, a.format),
            Some(Command::Kill(a)) => (a.json, a.format),
            Some(Command::Audit(a)) => (a.json, a.format),
            Some(Command::Check(a)) => (a.json, a.format),
            Some(Command::Explain(a)) => (a.json, a.format),
            Some(Command::Watch(a)) => (a.json, None),
            Some(Command::Completions(_) | Command::Man(_)) => (false, None),
        };
        if let Some(other) = format.filter(|&f| json && f != Format::Json) {
            return Err(Self::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("`--json` is short for `--format json` and cannot be combined with `--format {other}`"),
            ));
        }
        if let Some(command) = &cli.command {
            let name = match command {
                Command::Kill(_) => Some("kill"),
                Command::Check(_) => Some("check"),
                Command::Explain(_) => Some("explain"),
                Command::Completions(_) => Some("completions"),
                Command::Man(_) => Some("man"),
                Command::List(_) | Command::Who(_) | Command::Audit(_) | Command::Watch(_) => None,
            };
            if let Some(name) = name.filter(|_| cli.global.netns.is_some() || cli.global.all_netns)
            {
                return Err(Self::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("`--netns` and `--all-netns` are for list, who, audit and watch, not `{name}`"),
                ));
            }
            if cli.list != ListArgs::default() {
                let name = match command {
                    Command::List(_) => "list",
                    Command::Who(_) => "who",
                    Command::Kill(_) => "kill",
                    Command::Audit(_) => "audit",
                    Command::Check(_) => "check",
                    Command::Explain(_) => "explain",
                    Command::Watch(_) => "watch",
                    Command::Completions(_) => "completions",
                    Command::Man(_) => "man",
                };
                return Err(Self::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("listing options go after `list` or without a subcommand, not before `{name}`"),
                ));
            }
        }
        Ok(cli)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List listening sockets and their owners (the default).
    List(ListArgs),
    /// Who holds a port: every socket on it in any state, each owner in detail (unit,
    /// container, parent chain), a bind probe and advice. Exit 0 in use, 1 free, 2 error.
    Who(WhoArgs),
    /// Free a port: show who holds it, ask, signal the holders, wait until the port is free.
    /// Exit 0 free, 1 still in use, 2 error or refusal.
    Kill(KillArgs),
    /// Security self-audit: risky services reachable from beyond this machine, how bad each is
    /// and how to fix it.
    #[command(
        long_about = "Security self-audit: which listening services are reachable from beyond \
                      this machine that should not be, how severe each is (docs/rules.md) and \
                      how to fix it. Run as root to see every owner.",
        after_help = "Exit codes: 0 when no unsuppressed finding is at or above --fail-on \
                      (always 0 without it), 1 when one is, 2 on error (bad arguments, an \
                      unreadable or malformed allowlist or baseline). --fail-on judges every \
                      unsuppressed finding, including those --min-severity does not show."
    )]
    Audit(AuditArgs),
    /// Why can't I connect? Diagnose a connection to a local service: listener, bind address,
    /// firewall, and a real connect. Exit 0 when it works, 1 when it does not, 2 on error.
    #[command(
        long_about = "Why can't I connect? Diagnoses a connection to a service of this machine, \
                      in the order a careful sysadmin checks: is anything listening on the port, \
                      does its bind cover the address used, does the firewall (nftables, a \
                      heuristic) let it through, and a real connect with a short timeout. Only \
                      addresses of this machine are accepted: this is not a network scanner.",
        after_help = "Exit codes: 0 when the connection works, 1 when it does not, 2 on error \
                      (bad input, an address that is not this machine's)."
    )]
    Check(CheckArgs),
    /// What is port N, and should it be open? The IANA registration and range, the usual
    /// service, the audit's verdict with the secure alternative, and what holds it here.
    #[command(
        after_help = "Exit codes: 0 when something is known about the port or name, 1 \
                             when nothing is, 2 on malformed input."
    )]
    Explain(ExplainArgs),
    /// Watch sockets open and close over time: one line (or NDJSON object) per event, as it
    /// happens, until interrupted.
    #[command(
        long_about = "Watch sockets open and close over time. The socket table is polled every \
                      --interval; each change since the previous poll is printed as it is seen: \
                      a socket opened or closed, its owner changed, its exposure changed (an \
                      interface address came or went). The sockets present at the first poll \
                      are the baseline and are not reported. Owners are looked up only for new \
                      sockets, and for all of them every 30 s or when a known owner exits. With \
                      --audit each new or more exposed listener is judged by the audit rules \
                      (and --allow) and a finding is reported at once.",
        after_help = "Runs until SIGINT or SIGTERM (exit 0, with a summary on a terminal) or \
                      until nothing reads its output any more (exit 0). Exit 2 on error."
    )]
    Watch(WatchArgs),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell), generated
    /// from these very options.
    #[command(
        after_help = "Examples:\n  portscope completions bash > ~/.local/share/bash-completion/completions/portscope\n  \
                      portscope completions zsh > \"${fpath[1]}/_portscope\"\n  \
                      portscope completions fish > ~/.config/fish/completions/portscope.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from these very options: `portscope man | man -l -`.
    Man(ManArgs),
}

/// Arguments of `portscope check`.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// The service to check: 8080, 8080/udp, 10.0.0.5:8080, [::1]:8080/tcp (the address
    /// defaults to 127.0.0.1, the protocol to tcp).
    #[arg(value_name = "[ADDRESS:]PORT[/tcp|/udp]", value_parser = CheckTarget::parse)]
    pub target: CheckTarget,
    /// How long the connect may take: 2, 500ms (above zero).
    #[arg(long, value_name = "DURATION", default_value = "2", value_parser = parse_connect_timeout)]
    pub timeout: Duration,
    /// JSON for scripts (schema in docs/json.md); short for --format json.
    #[arg(long)]
    pub json: bool,
    /// Output format: table or json.
    #[arg(long, value_name = "FORMAT", value_parser = report_format())]
    pub format: Option<Format>,
}

/// Arguments of `portscope explain`.
#[derive(Debug, Args, Clone)]
pub struct ExplainArgs {
    /// A port number (5432) or a service name (postgres, rdp, http-alt).
    #[arg(value_name = "PORT|SERVICE", value_parser = ExplainQuery::parse)]
    pub query: ExplainQuery,
    /// JSON for scripts (schema in docs/json.md); short for --format json.
    #[arg(long)]
    pub json: bool,
    /// Output format: table or json.
    #[arg(long, value_name = "FORMAT", value_parser = report_format())]
    pub format: Option<Format>,
}

impl CheckArgs {
    /// The output format of `--json` or `--format` ([`output_format`]).
    #[must_use]
    pub fn format(&self) -> Format {
        output_format(self.json, self.format)
    }
}

impl ExplainArgs {
    /// The output format of `--json` or `--format` ([`output_format`]).
    #[must_use]
    pub fn format(&self) -> Format {
        output_format(self.json, self.format)
    }
}

/// Arguments of `portscope completions`.
#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Arguments of `portscope man`.
#[derive(Debug, Args, Clone, Default)]
pub struct ManArgs {
    /// The subcommand whose page to print (`portscope-who(1)`); portscope(1) without it.
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "out_dir")]
    pub subcommand: Option<String>,
    /// Write portscope.1 and one page per subcommand into this directory instead (packaging).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Arguments of `portscope audit`.
#[derive(Debug, Args, Clone, Default)]
pub struct AuditArgs {
    /// JSON for scripts (schema in docs/json.md); short for --format json.
    #[arg(long)]
    pub json: bool,
    /// Output format: table, json, csv (one finding per row) or prometheus (metrics for
    /// node_exporter's textfile collector).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Write the report to FILE instead of stdout, atomically (a temporary file in the same
    /// directory, then a rename; mode 0644), as node_exporter's textfile collector needs.
    #[arg(short, long, value_name = "FILE", conflicts_with = "save_baseline")]
    pub output: Option<PathBuf>,
    /// Exit 1 when an unsuppressed finding is at or above this severity (critical, high,
    /// medium, low, info), whether --min-severity shows it or not.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Report only findings at or above this severity. Only the report: --fail-on still judges
    /// every finding (and a warning counts those it fails on without showing).
    #[arg(long, value_name = "SEVERITY")]
    pub min_severity: Option<Severity>,
    /// Allowlist of accepted findings (TOML, see docs/audit.md).
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    /// Also show suppressed findings in the table (JSON always has them).
    #[arg(long)]
    pub show_suppressed: bool,
    /// Record the current listeners to FILE and exit 0.
    #[arg(long, value_name = "FILE", conflicts_with = "baseline")]
    pub save_baseline: Option<PathBuf>,
    /// Report only findings that are new or more exposed than in this baseline.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Audit these snapshots (`portscope --json` saved on each host) instead of this machine;
    /// every finding names its host (docs/fleet.md).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub from: Vec<PathBuf>,
    /// Also identify each TCP listener by a short local handshake (banner, Redis PING, HTTP
    /// HEAD, TLS hello; docs/services.md); a risk it shows, such as Redis answering without a
    /// password, raises the finding one step. Off by default: it connects to every listener.
    #[arg(long, conflicts_with = "from")]
    pub identify: bool,
}

/// The socket selection the listing and `watch` share (flattened into both, so their help
/// lists these options in the same place).
#[derive(Debug, Args, Clone, Default, PartialEq)]
pub struct SocketSelect {
    /// Every state (established, time_wait, …) with remote ends, not only listeners.
    #[arg(short, long)]
    pub all: bool,
    /// TCP only.
    #[arg(short, long)]
    pub tcp: bool,
    /// UDP only.
    #[arg(short, long)]
    pub udp: bool,
    /// IPv4 sockets only.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6 sockets only.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Local ports, e.g. 22,80,8000-8100.
    #[arg(long, value_name = "PORTS", value_parser = parse_port_list, allow_hyphen_values = true)]
    pub port: Vec<Vec<PortRange>>,
}

impl SocketSelect {
    /// The port ranges of every `--port` given.
    #[must_use]
    pub fn ports(&self) -> Vec<PortRange> {
        self.port.iter().flatten().copied().collect()
    }

    /// The protocols of `-t`/`-u` for the filter (empty: both).
    #[must_use]
    pub fn protos(&self) -> Vec<Proto> {
        match (self.tcp, self.udp) {
            (true, false) => vec![Proto::Tcp],
            (false, true) => vec![Proto::Udp],
            _ => Vec::new(),
        }
    }

    /// The kernel request: the listening states (every state with `--all`), the protocols and
    /// families asked, and one port range filtered by the kernel (several are filtered after
    /// the dump, by `Filter::keep_raw`, which applies in every case).
    #[must_use]
    pub fn query(&self) -> SocketQuery {
        let mut q = if self.all {
            SocketQuery::all()
        } else {
            SocketQuery::listening()
        };
        match (self.tcp, self.udp) {
            (true, false) => q.udp = false,
            (false, true) => q.tcp = false,
            _ => {}
        }
        if let [range] = self.ports().as_slice() {
            q.local_ports = Some((range.start, range.end));
        }
        q.ipv4 &= !self.ipv6;
        q.ipv6 &= !self.ipv4;
        q
    }
}

/// Arguments of `portscope watch`: the listing's filters, the interval, the output and the
/// audit.
#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    /// Which sockets: states, protocols, families and ports.
    #[command(flatten)]
    pub select: SocketSelect,
    /// Sockets held by a process of this name (exact or substring).
    #[arg(long, value_name = "NAME", value_parser = parse_process_name)]
    pub process: Vec<String>,
    /// Sockets exposed at least this far (loopback < link_local < private < public), before or
    /// after a change.
    #[arg(long, value_name = "CLASS", value_delimiter = ',', value_parser = parse_exposure)]
    pub exposure: Vec<AddrClass>,
    /// Time between two polls: 1s, 500ms, 2m (from 10ms to 1h).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: Duration,
    /// One JSON object per line (NDJSON, docs/json.md) instead of table lines.
    #[arg(long)]
    pub json: bool,
    /// Judge each new or more exposed listener by the audit rules and report a `finding` event.
    #[arg(long)]
    pub audit: bool,
    /// Allowlist of accepted findings for --audit (TOML, see docs/audit.md): covered findings
    /// are not reported.
    #[arg(long, value_name = "FILE", requires = "audit")]
    pub allow: Option<PathBuf>,
}

/// The shortest `watch --interval`: below it a poll would run back to back with the next.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// The longest `watch --interval`.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Parse `watch --interval`: a duration ([`parse_timeout`]) from [`MIN_INTERVAL`] to
/// [`MAX_INTERVAL`].
///
/// # Errors
/// A message naming the value and the range.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_timeout(text)?;
    if (MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
        Ok(interval)
    } else {
        Err(format!(
            "'{}' is not a usable interval: give 10ms to 1h",
            text.trim()
        ))
    }
}

/// Arguments of `portscope who`.
#[derive(Debug, Args, Clone)]
pub struct WhoArgs {
    /// The port, optionally with a protocol: 8080, 8080/tcp, 53/udp.
    #[arg(value_name = "PORT[/tcp|/udp]", value_parser = parse_port_spec)]
    pub port: PortSpec,
    /// JSON for scripts (schema in docs/json.md); short for --format json.
    #[arg(long)]
    pub json: bool,
    /// Output format: table or json.
    #[arg(long, value_name = "FORMAT", value_parser = report_format())]
    pub format: Option<Format>,
    /// Never try to bind the port. Without it, a protocol the socket table shows nothing for
    /// is probed with a bind (closed at once) to catch sockets the table does not list.
    #[arg(long)]
    pub no_probe: bool,
}

/// Arguments of `portscope kill`.
#[derive(Debug, Args, Clone)]
pub struct KillArgs {
    /// The port, optionally with a protocol: 8080, 8080/tcp, 53/udp.
    #[arg(value_name = "PORT[/tcp|/udp]", value_parser = parse_port_spec)]
    pub port: PortSpec,
    /// Signal to send first, by name or number.
    #[arg(short, long, value_name = "NAME|NUM", default_value = "TERM", value_parser = clap::value_parser!(Signal))]
    pub signal: Signal,
    /// How long to wait for the port to become free: 5, 2s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "5", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Escalate to SIGKILL after the timeout, and signal holders that are otherwise only
    /// pointed at (container forwarders, processes of restarting systemd units).
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short, long)]
    pub yes: bool,
    /// Only show what would be signalled.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// JSON for scripts (never counts as consent; schema in docs/json.md); short for --format
    /// json.
    #[arg(long)]
    pub json: bool,
    /// Output format: table or json (json never counts as consent).
    #[arg(long, value_name = "FORMAT", value_parser = report_format())]
    pub format: Option<Format>,
}

/// Options shared by every subcommand.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// When to use colour: auto (a terminal, NO_COLOR unset and TERM not dumb), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Read processes from this proc filesystem instead of /proc (e.g. /host/proc in a container).
    #[arg(long, value_name = "DIR", global = true, default_value = crate::collect::PROC_ROOT)]
    pub proc_root: PathBuf,
    /// How the system is read: auto (Linux: netlink sock_diag and /proc; Windows and macOS:
    /// netstat2) or netstat2 (the cross-platform backend, on Linux too; docs/architecture.md
    /// lists what it cannot know).
    #[arg(long, value_enum, default_value_t = Backend::Auto, global = true, value_name = "BACKEND")]
    pub backend: Backend,
    /// Read sockets in another network namespace instead of portscope's own: a name under
    /// /run/netns, a pid (its /proc/PID/ns/net) or a namespace file. Needs root. For list,
    /// who, audit and watch.
    #[arg(long, value_name = "NAME|PID|PATH", global = true, value_parser = NetnsTarget::parse, conflicts_with = "all_netns")]
    pub netns: Option<NetnsTarget>,
    /// Read sockets in every network namespace of the host (containers, pods, `ip netns`),
    /// each once; rows carry their namespace. Needs root. For list, who, audit and watch.
    #[arg(long, global = true)]
    pub all_netns: bool,
    /// How the owners of sockets are found on Linux: auto (the kernel's BPF task_file iterator
    /// when it can run: root, BTF, this PID namespace's /proc; otherwise /proc, with the same
    /// output), bpf (the iterator, or an error saying why not) or proc (a pass over /proc/*/fd).
    #[arg(long, value_enum, default_value_t = OwnerScanMode::Auto, global = true, value_name = "HOW")]
    pub owner_scan: OwnerScanMode,
}

impl GlobalArgs {
    /// The network namespaces to read for `command` (`None`: the listing). The audit of one
    /// other namespace reads portscope's own too, where the forwarders that publish the
    /// namespace's ports listen.
    #[must_use]
    pub fn netns_selection(&self, command: Option<&Command>) -> NetnsSelection {
        if self.all_netns {
            return NetnsSelection::All;
        }
        match &self.netns {
            None => NetnsSelection::Own,
            Some(target) => NetnsSelection::One {
                target: target.clone(),
                with_own: matches!(command, Some(Command::Audit(_))),
            },
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal, NO_COLOR is not set and TERM is not `dumb`.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Arguments of the listing view.
#[derive(Debug, Args, Clone, Default, PartialEq)]
pub struct ListArgs {
    /// Which sockets: states, protocols, families and ports.
    #[command(flatten)]
    pub select: SocketSelect,
    /// Sockets held by this pid (repeat or separate with commas).
    #[arg(long, value_name = "PID", value_delimiter = ',', value_parser = parse_pid)]
    pub pid: Vec<u32>,
    /// Sockets held by a process of this name (exact or substring).
    #[arg(long, value_name = "NAME", value_parser = parse_process_name)]
    pub process: Vec<String>,
    /// Sockets owned by this user, by name or uid (socket owner or process owner).
    #[arg(long, value_name = "USER")]
    pub user: Vec<UserSpec>,
    /// Sockets in this state (implies --all for the states given), e.g. time_wait.
    #[arg(long, value_name = "STATE", value_delimiter = ',', value_parser = parse_state)]
    pub state: Vec<SocketState>,
    /// Sockets exposed at least this far, in the order loopback < link_local (and multicast) <
    /// private (and documentation, reserved) < public: `--exposure private` shows private,
    /// documentation, reserved and public sockets (docs/exposure.md).
    #[arg(long, value_name = "CLASS", value_delimiter = ',', value_parser = parse_exposure)]
    pub exposure: Vec<AddrClass>,
    /// Skip the owner lookup (fastest; no process columns).
    #[arg(long, conflicts_with_all = ["pid", "process"])]
    pub no_owners: bool,
    /// Also identify each TCP listener by a short local handshake (banner, Redis PING, HTTP
    /// HEAD, TLS hello) to this machine's own address; JSON carries what it answered
    /// (docs/services.md). Off by default: it connects to every listener shown.
    #[arg(long)]
    pub identify: bool,
    /// JSON for scripts (schema in docs/json.md); short for --format json.
    #[arg(long)]
    pub json: bool,
    /// Output format: table (fitted to a terminal), json, csv or prometheus (metrics for
    /// node_exporter's textfile collector).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Write the output to FILE instead of stdout, atomically (a temporary file in the same
    /// directory, then a rename; mode 0644).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Accepted for ss/netstat muscle memory (`portscope -tulpn`): listening is the default,
    /// output is always numeric with service names in their own column, processes are shown.
    #[arg(short = 'l', hide = true)]
    pub ss_listening: bool,
    /// See `ss_listening`.
    #[arg(short = 'n', hide = true)]
    pub ss_numeric: bool,
    /// See `ss_listening`.
    #[arg(short = 'p', hide = true)]
    pub ss_processes: bool,
}

impl ListArgs {
    /// The output format of `--json` or `--format` ([`output_format`]).
    #[must_use]
    pub fn format(&self) -> Format {
        output_format(self.json, self.format)
    }
}

impl WhoArgs {
    /// The output format of `--json` or `--format` ([`output_format`]).
    #[must_use]
    pub fn format(&self) -> Format {
        output_format(self.json, self.format)
    }
}

impl KillArgs {
    /// The output format of `--json` or `--format` ([`output_format`]).
    #[must_use]
    pub fn format(&self) -> Format {
        output_format(self.json, self.format)
    }
}

impl AuditArgs {
    /// The output format of `--json` or `--format` ([`output_format`]).
    #[must_use]
    pub fn format(&self) -> Format {
        output_format(self.json, self.format)
    }
}

/// The one output format of a command: `--json` is `--format json` (a contradicting
/// `--format` was refused by [`Cli::check`]); the table without either.
#[must_use]
pub fn output_format(json: bool, format: Option<Format>) -> Format {
    if json {
        Format::Json
    } else {
        format.unwrap_or_default()
    }
}

/// `--format` takes the names of [`Format::ALL`]; the format itself lives with its writers in
/// `render`, which knows nothing of clap.
impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &Format::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Format::Table => "aligned columns for people",
            Format::Json => "one document for scripts (docs/json.md)",
            Format::Csv => "rows for spreadsheets, RFC 4180 (docs/formats.md)",
            Format::Prometheus => {
                "metrics for node_exporter's textfile collector (docs/formats.md)"
            }
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

/// The `--format` of the one-port reports (`who`, `kill`, `check`, `explain`):
/// [`Format::REPORTS`] only, so `--format csv` there is a usage error naming the formats that
/// exist, and `--help` and the completions offer only those.
fn report_format() -> impl TypedValueParser<Value = Format> {
    let values = Format::REPORTS
        .iter()
        .filter_map(ValueEnum::to_possible_value);
    clap::builder::PossibleValuesParser::new(values).map(|name| {
        Format::REPORTS
            .into_iter()
            .find(|f| f.as_str() == name)
            .unwrap_or_default()
    })
}

/// `--backend` takes the names of [`Backend::ALL`]; the backends live in `collect`.
impl ValueEnum for Backend {
    fn value_variants<'a>() -> &'a [Self] {
        &Backend::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Backend::Auto => "sock_diag and /proc on Linux, netstat2 elsewhere",
            Backend::Netstat2 => "netstat2 and sysinfo, on every system",
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

/// `--owner-scan` takes the names of [`OwnerScanMode::ALL`]; the scans live in `collect`.
impl ValueEnum for OwnerScanMode {
    fn value_variants<'a>() -> &'a [Self] {
        &OwnerScanMode::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            OwnerScanMode::Auto => "the BPF iterator when it can run, else /proc (same output)",
            OwnerScanMode::Bpf => "the BPF task_file iterator, or an error saying why not",
            OwnerScanMode::Proc => "one pass over /proc/*/fd",
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

/// Parse a pid: a positive number.
///
/// # Errors
/// A message naming the value.
pub fn parse_pid(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err(format!("'{text}' is not a pid: give a positive number")),
        Ok(pid) => Ok(pid),
    }
}

/// Parse a process name for `--process`: not empty.
///
/// # Errors
/// When the name is empty.
pub fn parse_process_name(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        Err("a process name is missing".to_string())
    } else {
        Ok(t.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_and_names() {
        assert_eq!(parse_pid("42"), Ok(42));
        assert!(parse_pid("abc").unwrap_err().contains("'abc' is not a pid"));
        assert!(parse_pid("0").is_err());
        assert!(parse_process_name(" ").is_err());
        assert_eq!(parse_process_name("nginx"), Ok("nginx".into()));
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn default_view_flags_parse_at_top_level() {
        let cli = Cli::try_parse_from(["portscope", "-t", "--port", "22,80", "--json"]).unwrap();
        assert!(cli.command.is_none());
        assert!(cli.list.select.tcp && cli.list.json);
        assert_eq!(cli.list.select.ports().len(), 2);
    }

    #[test]
    fn global_options_go_anywhere_list_options_only_with_list() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).and_then(Cli::check);
        assert!(parse(&["portscope", "--color", "never", "who", "80"]).is_ok());
        assert!(parse(&["portscope", "who", "80", "--color", "never"]).is_ok());
        assert!(parse(&["portscope", "--proc-root", "/proc", "audit"]).is_ok());
        assert!(parse(&["portscope", "list", "-t"]).is_ok());
        let err = parse(&["portscope", "-t", "who", "80"]).unwrap_err();
        assert!(err.to_string().contains("before `who`"), "{err}");
    }

    #[test]
    fn ss_muscle_memory_parses() {
        let cli = Cli::try_parse_from(["portscope", "-tulpn"]).unwrap();
        assert!(cli.list.select.tcp && cli.list.select.udp && cli.list.ss_processes);
    }

    #[test]
    fn audit_flags_parse() {
        let cli = Cli::try_parse_from([
            "portscope",
            "audit",
            "--fail-on",
            "HIGH",
            "--min-severity",
            "low",
            "--allow",
            "a.toml",
            "--json",
        ])
        .unwrap();
        let Some(Command::Audit(args)) = cli.command else {
            panic!("not audit")
        };
        assert_eq!(args.fail_on, Some(Severity::High));
        assert_eq!(args.min_severity, Some(Severity::Low));
        assert!(args.json);
        let err = Cli::try_parse_from(["portscope", "audit", "--fail-on", "severe"]).unwrap_err();
        assert!(err.to_string().contains("severe"), "{err}");
        assert!(
            Cli::try_parse_from([
                "portscope",
                "audit",
                "--baseline",
                "a",
                "--save-baseline",
                "b"
            ])
            .is_err()
        );
    }

    #[test]
    fn who_and_kill_parse() {
        let cli = Cli::try_parse_from(["portscope", "who", "53/udp", "--json"]).unwrap();
        let Some(Command::Who(who)) = cli.command else {
            panic!("not who")
        };
        assert_eq!(who.port.to_string(), "53/udp");
        assert!(who.json && !who.no_probe);
        let cli = Cli::try_parse_from(["portscope", "who", "80", "--no-probe"]).unwrap();
        let Some(Command::Who(who)) = cli.command else {
            panic!("not who")
        };
        assert!(who.no_probe);
        let cli = Cli::try_parse_from([
            "portscope",
            "kill",
            "8080",
            "--signal",
            "KILL",
            "--timeout",
            "500ms",
            "-y",
        ])
        .unwrap();
        let Some(Command::Kill(k)) = cli.command else {
            panic!("not kill")
        };
        assert_eq!(k.signal, Signal::Kill);
        assert_eq!(k.timeout, Duration::from_millis(500));
        assert!(k.yes && !k.force && !k.dry_run);
        let k = Cli::try_parse_from(["portscope", "kill", "8080"]).unwrap();
        let Some(Command::Kill(k)) = k.command else {
            panic!("not kill")
        };
        assert_eq!(
            (k.signal, k.timeout),
            (Signal::Term, Duration::from_secs(5))
        );
        for bad in ["0", "65536", "http", "80/sctp"] {
            let err = Cli::try_parse_from(["portscope", "who", bad]).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
        assert!(Cli::try_parse_from(["portscope", "who"]).is_err());
    }

    #[test]
    fn json_is_short_for_format_json() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).and_then(Cli::check);
        let list = |args: &[&str]| parse(args).map(|cli| cli.list.format());
        // (arguments of the default view) → format
        let cases: [(&[&str], Format); 5] = [
            (&["portscope"], Format::Table),
            (&["portscope", "--json"], Format::Json),
            (&["portscope", "--format", "json"], Format::Json),
            (&["portscope", "--format", "table"], Format::Table),
            (&["portscope", "--json", "--format", "json"], Format::Json),
        ];
        for (args, want) in cases {
            assert_eq!(list(args).unwrap(), want, "{args:?}");
        }
        let err = list(&["portscope", "--json", "--format", "table"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(
            err.to_string().contains(
                "`--json` is short for `--format json` and cannot be combined with `--format table`"
            ),
            "{err}"
        );
        assert!(list(&["portscope", "--format", "yaml"]).is_err());

        let format = |args: &[&str]| match parse(args).map(|cli| cli.command) {
            Ok(Some(Command::List(a))) => Ok(a.format()),
            Ok(Some(Command::Who(a))) => Ok(a.format()),
            Ok(Some(Command::Kill(a))) => Ok(a.format()),
            Ok(Some(Command::Audit(a))) => Ok(a.format()),
            Ok(Some(Command::Check(a))) => Ok(a.format()),
            Ok(Some(Command::Explain(a))) => Ok(a.format()),
            Ok(None | Some(Command::Completions(_) | Command::Man(_) | Command::Watch(_))) => {
                panic!("no subcommand with a format in {args:?}")
            }
            Err(e) => Err(e.kind()),
        };
        for command in [
            &["list"][..],
            &["who", "80"],
            &["kill", "80"],
            &["audit"],
            &["check", "80"],
            &["explain", "ssh"],
        ] {
            let with = |extra: &[&str]| {
                let mut args = vec!["portscope"];
                args.extend_from_slice(command);
                args.extend_from_slice(extra);
                format(&args)
            };
            assert_eq!(with(&[]), Ok(Format::Table), "{command:?}");
            assert_eq!(with(&["--json"]), Ok(Format::Json), "{command:?}");
            assert_eq!(with(&["--format", "json"]), Ok(Format::Json), "{command:?}");
            assert_eq!(
                with(&["--format", "json", "--json"]),
                Ok(Format::Json),
                "{command:?}"
            );
            assert_eq!(
                with(&["--json", "--format", "table"]),
                Err(clap::error::ErrorKind::ArgumentConflict),
                "{command:?}"
            );
        }
        // Like --json, --format of the default view does not go before a subcommand.
        assert!(parse(&["portscope", "--format", "json", "who", "80"]).is_err());
    }

    /// csv and prometheus are formats of the listing and the audit; the one-port reports
    /// refuse them as a usage error naming the formats they have.
    #[test]
    fn row_and_metric_formats_are_for_list_and_audit_only() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).and_then(Cli::check);
        for format in ["csv", "prometheus"] {
            let cli = parse(&["portscope", "--format", format]).unwrap();
            assert_eq!(cli.list.format().as_str(), format);
            let cli = parse(&["portscope", "audit", "--format", format, "-o", "f"]).unwrap();
            let Some(Command::Audit(a)) = cli.command else {
                panic!("not audit")
            };
            assert_eq!(a.format().as_str(), format);
            assert_eq!(a.output.as_deref(), Some(std::path::Path::new("f")));
            for command in [
                &["who", "80"][..],
                &["kill", "80"],
                &["check", "80"],
                &["explain", "ssh"],
            ] {
                let mut args = vec!["portscope"];
                args.extend_from_slice(command);
                args.extend_from_slice(&["--format", format]);
                let err = parse(&args).unwrap_err();
                assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue, "{args:?}");
                assert!(
                    err.to_string().contains("[possible values: table, json]"),
                    "{err}"
                );
            }
        }
        let cli = parse(&["portscope", "--output", "x.csv", "--format", "csv"]).unwrap();
        assert_eq!(
            cli.list.output.as_deref(),
            Some(std::path::Path::new("x.csv"))
        );
        // --output is the report's, not the baseline's.
        assert!(parse(&["portscope", "audit", "--save-baseline", "b", "-o", "f"]).is_err());
    }

    #[test]
    fn watch_flags_and_intervals() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).and_then(Cli::check);
        let watch = |args: &[&str]| match parse(args).map(|cli| cli.command) {
            Ok(Some(Command::Watch(a))) => Ok(a),
            Ok(other) => panic!("not watch: {other:?}"),
            Err(e) => Err(e),
        };
        let a = watch(&["portscope", "watch"]).unwrap();
        assert_eq!(a.interval, Duration::from_secs(1));
        assert!(!a.json && !a.audit && !a.select.all && a.allow.is_none());
        let a = watch(&[
            "portscope",
            "watch",
            "-t",
            "-4",
            "--port",
            "80,8000-8100",
            "--process",
            "nginx",
            "--exposure",
            "public",
            "--interval",
            "200ms",
            "--json",
            "--audit",
            "--allow",
            "a.toml",
        ])
        .unwrap();
        assert!(a.select.tcp && a.select.ipv4 && a.json && a.audit);
        assert_eq!(a.select.ports().len(), 2);
        assert_eq!(a.interval, Duration::from_millis(200));
        // (interval, accepted)
        let cases = [
            ("1s", true),
            ("10ms", true),
            ("1h", false),
            ("60m", true),
            ("0", false),
            ("0ms", false),
            ("5ms", false),
            ("61m", false),
            ("2d", false),
            ("soon", false),
        ];
        for (interval, ok) in cases {
            let got = watch(&["portscope", "watch", "--interval", interval]);
            assert_eq!(got.is_ok(), ok, "{interval}: {got:?}");
            if let Err(e) = got {
                assert!(e.to_string().contains(interval), "{e}");
            }
        }
        // --allow belongs to --audit; --format does not exist here.
        assert!(watch(&["portscope", "watch", "--allow", "a.toml"]).is_err());
        assert!(watch(&["portscope", "watch", "--format", "json"]).is_err());
    }

    #[test]
    fn bad_port_is_rejected() {
        let err = Cli::try_parse_from(["portscope", "--port", "99999"]).unwrap_err();
        assert!(err.to_string().contains("99999"), "{err}");
    }
}
