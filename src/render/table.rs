//! The human table of the listing views (tabled), fitted to the terminal width when there is
//! one. Every untrusted string is sanitized before it is coloured or measured.

use std::io::{self, Write};

use colored::Colorize;
use tabled::builder::Builder;
use tabled::settings::object::Rows;
use tabled::settings::peaker::Priority;
use tabled::settings::{Modify, Style as TableStyle, Width};

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
            row.push(command_cell(e));
        }
        builder.push_record(row);
    }
    let mut table = builder.build();
    table.with(TableStyle::blank());
    if let Some(width) = style.width {
        table.with(
            Width::truncate(width)
                .priority(Priority::max(true))
                .suffix("…"),
        );
    }
    table.with(Modify::new(Rows::first()).with(tabled::settings::Alignment::left()));
    writeln!(out, "{table}")
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
