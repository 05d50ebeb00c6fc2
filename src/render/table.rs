//! The human table of the listing views (tabled), fitted to the terminal width when there is
//! one. Every untrusted string is sanitized before it is coloured or measured.

use std::io::{self, Write};

use colored::Colorize;
use tabled::builder::Builder;
use tabled::settings::peaker::Priority;
use tabled::settings::{Modify, Padding, Style as TableStyle, Width};

use crate::model::{AddrClass, OwnerUnknown, SocketEntry};
use crate::render::{Style, addr, sanitize};

/// Which columns a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// State and remote end (the `--all` view).
    pub states: bool,
    /// Process columns (off with `--no-owners`).
    pub owners: bool,
}

/// Write the listing table. Nothing is written for an empty list.
///
/// # Errors
/// When writing fails.
pub fn sockets(
    out: &mut dyn Write,
    entries: &[SocketEntry],
    cols: Columns,
    style: Style,
) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut builder = Builder::default();
    let mut header = vec!["PROTO"];
    if cols.states {
        header.push("STATE");
    }
    header.extend(["ADDRESS", "PORT"]);
    if cols.states {
        header.push("REMOTE");
    }
    header.extend(["SERVICE", "EXPOSURE"]);
    if cols.owners {
        header.extend(["PID", "PROCESS"]);
    }
    header.push("USER");
    if cols.owners {
        header.push("COMMAND");
    }
    builder.push_record(header.iter().map(|h| paint_header(h, style)));
    let mut command_width = "COMMAND".len();
    for e in entries {
        let mut row = vec![e.proto.to_string()];
        if cols.states {
            row.push(e.state.to_string());
        }
        row.push(local_address(e));
        row.push(e.local_port.to_string());
        if cols.states {
            row.push(match (e.remote_address, e.remote_port) {
                (Some(a), Some(p)) => format!("{}:{p}", addr(a)),
                _ => String::new(),
            });
        }
        row.push(
            e.service
                .clone()
                .unwrap_or_else(|| format!("({})", e.port_range)),
        );
        row.push(exposure_cell(e, style));
        if cols.owners {
            let (pid, process) = owner_cells(e, style);
            row.push(pid);
            row.push(process);
        }
        row.push(user_cell(e));
        if cols.owners {
            let command = command_cell(e);
            command_width = command_width.max(command.chars().count());
            row.push(command);
        }
        builder.push_record(row);
    }
    let mut table = builder.build();
    // Two spaces between columns, none at the edges: compact like ss, easy to grep.
    table.with(TableStyle::blank().remove_vertical());
    table.with(Padding::new(0, 2, 0, 0));
    if let Some(width) = style.width {
        fit(&mut table, width, cols.owners.then_some(command_width));
    }
    for line in table.to_string().lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Shrink the table to `width` columns: the command line gives way first, then every column.
fn fit(table: &mut tabled::Table, width: usize, command_width: Option<usize>) {
    let total = table.total_width();
    if total <= width {
        return;
    }
    if let Some(command) = command_width {
        let keep = command.saturating_sub(total - width).max(12);
        table.with(
            Modify::new(tabled::settings::object::Columns::last())
                .with(Width::truncate(keep).suffix("…")),
        );
    }
    if table.total_width() > width {
        table.with(
            Width::truncate(width)
                .priority(Priority::max(true))
                .suffix("…"),
        );
    }
}

fn paint_header(text: &str, style: Style) -> String {
    if style.color {
        text.bold().to_string()
    } else {
        text.to_string()
    }
}

/// `0.0.0.0`, `[::] v4+v6`, `[::] v6-only`, `0.0.0.0%lo`.
fn local_address(e: &SocketEntry) -> String {
    let mut s = addr(e.local_address);
    if let Some(dev) = &e.interface {
        s.push('%');
        s.push_str(&sanitize(dev));
    }
    match e.dual_stack {
        Some(true) => s.push_str(" v4+v6"),
        Some(false) => s.push_str(" v6-only"),
        None => {}
    }
    s
}

fn exposure_cell(e: &SocketEntry, style: Style) -> String {
    let Some(class) = e.exposure else {
        return "none".to_string();
    };
    let mut text = class.as_str().replace('_', "-");
    if e.wildcard {
        if let Some(dev) = &e.exposure_interface {
            text.push_str(" via ");
            text.push_str(&sanitize(dev));
        }
    }
    if !style.color {
        return text;
    }
    match class {
        AddrClass::Public => text.red().bold().to_string(),
        AddrClass::Private | AddrClass::Documentation | AddrClass::Reserved => {
            text.yellow().to_string()
        }
        AddrClass::LinkLocal | AddrClass::Multicast => text.cyan().to_string(),
        AddrClass::Loopback => text.green().to_string(),
    }
}

fn owner_cells(e: &SocketEntry, style: Style) -> (String, String) {
    if e.processes.is_empty() {
        let why = match e.owner_unknown_reason {
            Some(OwnerUnknown::Permission) => "(need root)",
            Some(OwnerUnknown::Hidden) => "(hidden)",
            Some(OwnerUnknown::Kernel) => "(kernel)",
            Some(OwnerUnknown::NotFound) => "(not found)",
            Some(OwnerUnknown::Skipped) | None => "",
        };
        let why = if style.color {
            why.dimmed().to_string()
        } else {
            why.to_string()
        };
        let pid = if e.owner_unknown_reason == Some(OwnerUnknown::Skipped) {
            ""
        } else {
            "?"
        };
        return (pid.to_string(), why);
    }
    let pids: Vec<String> = e.processes.iter().map(|p| p.pid.to_string()).collect();
    let pid = if pids.len() > 3 {
        format!("{},+{}", pids[..2].join(","), pids.len() - 2)
    } else {
        pids.join(",")
    };
    let mut names: Vec<String> = Vec::new();
    for p in &e.processes {
        let name = sanitize(p.name.as_deref().unwrap_or("?")).into_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    (pid, names.join(","))
}

fn user_cell(e: &SocketEntry) -> String {
    let from_process = e
        .processes
        .first()
        .and_then(|p| p.user.clone().or(p.uid.map(|u| u.to_string())));
    let user = from_process
        .or_else(|| e.user.clone())
        .unwrap_or_else(|| e.uid.to_string());
    sanitize(&user).into_owned()
}

fn command_cell(e: &SocketEntry) -> String {
    e.processes
        .first()
        .map(|p| sanitize(&p.cmdline.join(" ")).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, ProcessInfo, Proto, SocketState};

    fn entry(port: u16, addr: &str) -> SocketEntry {
        SocketEntry {
            proto: Proto::Tcp,
            family: Family::Ipv4,
            local_address: addr.parse().unwrap(),
            local_port: port,
            remote_address: None,
            remote_port: None,
            state: SocketState::Listen,
            dual_stack: None,
            interface: None,
            uid: 0,
            user: Some("root".into()),
            inode: 1,
            processes: Vec::new(),
            owner_unknown_reason: None,
            service: None,
            port_range: "registered".into(),
            exposure: Some(AddrClass::Loopback),
            exposure_address: None,
            exposure_interface: None,
            wildcard: false,
        }
    }

    fn process(pid: u32, name: &str, user: &str, cmd: &[&str]) -> ProcessInfo {
        ProcessInfo {
            pid,
            fds: vec![6],
            name: Some(name.into()),
            cmdline: cmd.iter().map(|s| s.to_string()).collect(),
            exe: None,
            uid: Some(33),
            user: Some(user.into()),
            ppid: Some(1),
            start_time: None,
        }
    }

    fn sample() -> Vec<SocketEntry> {
        let mut ssh = entry(22, "0.0.0.0");
        ssh.service = Some("ssh".into());
        ssh.port_range = "system".into();
        ssh.exposure = Some(AddrClass::Public);
        ssh.exposure_interface = Some("eth0".into());
        ssh.wildcard = true;
        ssh.processes = vec![process(
            812,
            "sshd",
            "root",
            &["sshd: /usr/sbin/sshd -D [listener]"],
        )];
        let mut web = entry(8080, "::");
        web.family = Family::Ipv6;
        web.dual_stack = Some(true);
        web.wildcard = true;
        web.exposure = Some(AddrClass::Private);
        web.exposure_interface = Some("eth1".into());
        web.service = Some("http-alt".into());
        web.processes = vec![
            process(
                1200,
                "nginx",
                "root",
                &["nginx: master process /usr/sbin/nginx"],
            ),
            process(1201, "nginx", "www-data", &["nginx: worker process"]),
        ];
        let mut hidden = entry(2024, "0.0.0.0");
        hidden.owner_unknown_reason = Some(OwnerUnknown::Hidden);
        hidden.wildcard = true;
        let mut evil = entry(9999, "127.0.0.1");
        evil.processes = vec![process(
            4242,
            "ev\x1b[31mil",
            "bob",
            &["./ev\x1b[31mil", "--x"],
        )];
        let mut dns = entry(53, "127.0.0.53");
        dns.proto = Proto::Udp;
        dns.state = SocketState::Unconnected;
        dns.service = Some("domain".into());
        dns.interface = Some("lo".into());
        vec![dns, ssh, hidden, web, evil]
    }

    fn render(entries: &[SocketEntry], cols: Columns, width: Option<usize>) -> String {
        let mut out = Vec::new();
        sockets(
            &mut out,
            entries,
            cols,
            Style {
                color: false,
                width,
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn listening_table() {
        let cols = Columns {
            states: false,
            owners: true,
        };
        insta::assert_snapshot!(render(&sample(), cols, None));
    }

    #[test]
    fn all_states_table_without_owners() {
        let mut rows = sample();
        rows[1].state = SocketState::Established;
        rows[1].remote_address = Some("203.0.113.9".parse().unwrap());
        rows[1].remote_port = Some(51515);
        let cols = Columns {
            states: true,
            owners: false,
        };
        insta::assert_snapshot!(render(&rows, cols, None));
    }

    #[test]
    fn fits_a_narrow_terminal() {
        let cols = Columns {
            states: false,
            owners: true,
        };
        let text = render(&sample(), cols, Some(100));
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn empty_list_prints_nothing() {
        let cols = Columns {
            states: false,
            owners: true,
        };
        assert_eq!(render(&[], cols, None), "");
    }
}
