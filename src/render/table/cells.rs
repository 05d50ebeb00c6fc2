//! What the cells of a listing row say that takes more than printing a field: the coloured
//! exposure, the owner cells (PID, PROCESS, USER, COMMAND) and the header. Labels come from
//! `model` ([`ExposureLabel`], [`OwnerUnknownLabel`]); every untrusted name is sanitized here,
//! before it is coloured or measured.
//!
//! It formats one entry at a time; it must not decide which rows or columns are shown.

use colored::Colorize;

use crate::model::{
    AddrClass, ExposureLabel, OwnerUnknown, OwnerUnknownForm, OwnerUnknownLabel, SocketEntry,
};
use crate::render::{Sanitized, Style, sanitize};

/// A column name, bold in colour.
pub(super) fn header_cell(text: &str, style: Style) -> String {
    if style.color {
        text.bold().to_string()
    } else {
        text.to_string()
    }
}

/// The EXPOSURE cell in colour: red for public, yellow for private and the like, cyan for
/// link-local and multicast, green for loopback; `none` uncoloured.
pub(super) fn exposure_painted(e: &SocketEntry) -> String {
    let text = Sanitized(ExposureLabel::of(e)).to_string();
    let Some(class) = e.exposure else {
        return text;
    };
    match class {
        AddrClass::Public => text.red().bold().to_string(),
        AddrClass::Private | AddrClass::Documentation | AddrClass::Reserved => {
            text.yellow().to_string()
        }
        AddrClass::LinkLocal | AddrClass::Multicast => text.cyan().to_string(),
        AddrClass::Loopback => text.green().to_string(),
    }
}

/// The PID and PROCESS cells: up to three pids (`1200,1201`, `1,2,+3`) and the distinct process
/// names; for a socket without a visible owner, `?` and why (dimmed in colour), or nothing when
/// the owner scan was skipped.
pub(super) fn owner_cells(e: &SocketEntry, style: Style) -> (String, String) {
    if e.processes.is_empty() {
        let why = OwnerUnknownLabel {
            reason: e.owner_unknown_reason,
            form: OwnerUnknownForm::Cell,
        }
        .as_str();
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

/// The USER cell: every distinct user of the holding processes, in pid order, joined by `,`
/// as the PROCESS cell joins names (`root,www-data` for a root master and its workers), so a
/// socket shared across users never reads as one user's. Without a known holder, the socket's
/// own owner; blank when the kernel gives none (TIME_WAIT, connection requests).
pub(super) fn user_cell(e: &SocketEntry) -> String {
    let mut users: Vec<String> = Vec::new();
    for p in &e.processes {
        let user = match (&p.user, p.uid) {
            (Some(name), _) => sanitize(name).into_owned(),
            (None, Some(uid)) => uid.to_string(),
            (None, None) => continue,
        };
        if !users.contains(&user) {
            users.push(user);
        }
    }
    if !users.is_empty() {
        return users.join(",");
    }
    match (&e.user, e.uid) {
        (Some(name), _) => sanitize(name).into_owned(),
        (None, Some(uid)) => uid.to_string(),
        (None, None) => String::new(),
    }
}

/// The COMMAND cell: the first holder's command line, arguments joined by spaces.
pub(super) fn command_cell(e: &SocketEntry) -> String {
    e.processes
        .first()
        .map(|p| sanitize(&p.cmdline.join(" ")).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProcessInfo;
    use crate::render::table::tests::{entry, process};

    #[test]
    fn user_cell_names_every_user_of_a_shared_socket() {
        let p = |pid, user: Option<&str>, uid: Option<u32>| ProcessInfo {
            user: user.map(str::to_string),
            uid,
            ..process(pid, "nginx", "x", &[])
        };
        let with =
            |processes: Vec<ProcessInfo>, user: Option<&str>, uid: Option<u32>| SocketEntry {
                processes,
                user: user.map(str::to_string),
                uid,
                ..entry(80, "0.0.0.0")
            };
        let cases: Vec<(SocketEntry, &str)> = vec![
            (
                with(vec![p(1, Some("root"), Some(0))], Some("root"), Some(0)),
                "root",
            ),
            (
                with(
                    vec![
                        p(1, Some("root"), Some(0)),
                        p(2, Some("www-data"), Some(33)),
                        p(3, Some("www-data"), Some(33)),
                    ],
                    Some("root"),
                    Some(0),
                ),
                "root,www-data",
            ),
            // Pid order, not the socket owner first.
            (
                with(
                    vec![p(1, None, Some(1000)), p(2, Some("root"), Some(0))],
                    Some("root"),
                    Some(0),
                ),
                "1000,root",
            ),
            // A holder whose owner is unknown (it exited) adds nothing.
            (
                with(
                    vec![p(1, None, None), p(2, Some("bob"), Some(1001))],
                    None,
                    Some(0),
                ),
                "bob",
            ),
            (
                with(vec![p(1, None, None)], Some("alice"), Some(1000)),
                "alice",
            ),
            (with(vec![], Some("root"), Some(0)), "root"),
            (with(vec![], None, Some(1000)), "1000"),
            // TIME_WAIT: the kernel gives no uid.
            (with(vec![], None, None), ""),
            (
                with(vec![p(1, Some("ev\x1bil"), Some(5))], None, Some(5)),
                "ev\\x1bil",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(user_cell(&e), want, "{:?}", e.processes);
        }
    }
}
