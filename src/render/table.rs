//! The human table of the listing views: one row per socket, laid out by tabled on a terminal
//! (fitted to its width, see `fit`) or in colour, and by a direct aligned writer for pipes and
//! files (see `rows`); what the cells say is in `cells`. Every untrusted string is sanitized
//! before it is coloured or measured.
//!
//! It lays out the entries it is given; it must not collect, filter or decide what is shown.

mod cells;
mod fit;
mod rows;

use std::collections::HashMap;
use std::io::{self, Write};

use tabled::builder::Builder;

use crate::model::{Endpoint, ExposureLabel, LocalEnd, OwnerUnknown, SocketEntry};
use crate::render::{Sanitized, Style};

use fit::Keep;
use rows::Rows;

/// Which columns a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// State and remote end (the `--all` view).
    pub states: bool,
    /// Process columns (off with `--no-owners`).
    pub owners: bool,
    /// The NETNS column: the rows span more than one network namespace (`--all-netns`).
    pub netns: bool,
}

/// Write the listing table. Nothing is written for an empty list. Same as filling a [`Table`].
///
/// # Errors
/// When writing fails.
pub fn sockets(
    out: &mut dyn Write,
    entries: &[SocketEntry],
    cols: Columns,
    style: Style,
) -> io::Result<()> {
    let mut table = Table::new(cols, style);
    for e in entries {
        table.push(e);
    }
    table.write(out)
}

/// A listing table filled one entry at a time, so a caller can drop each entry once it is in the
/// table: the `--all` view of a busy host then never holds every row's full record.
///
/// Rows are kept compactly: the cells of the socket in one string, and the owner cells (PID,
/// PROCESS, USER, COMMAND), which depend only on the set of owning pids, formatted once per set
/// and shared by every row of that set.
///
/// Pipes and files (no width limit) whose cells hold no control character (always the case
/// without colour: names are sanitized) are written by a direct aligned writer that produces
/// the same bytes as the tabled layout (see `rows`): tabled costs about 1 µs and several
/// allocations per cell, which was most of the run time of `--all` on a busy host. A terminal (width fitting) or
/// colour goes through tabled.
#[derive(Debug)]
pub struct Table {
    cols: Columns,
    style: Style,
    rows: Rows,
    /// Owning pid set → index of its shared owner cells in `rows`; a single owner (most rows)
    /// is looked up by its pid alone, without building a key.
    owner_index: HashMap<Vec<u32>, u32>,
    single_owner_index: HashMap<u32, u32>,
    /// (reason, uid) of owner-less rows → index of their shared cells.
    unowned_index: HashMap<(Option<OwnerUnknown>, Option<u32>), u32>,
}

impl Table {
    /// An empty table with the header of `cols`.
    #[must_use]
    pub fn new(cols: Columns, style: Style) -> Self {
        let header = header(cols);
        // With owners, the last four columns are the shared owner cells.
        let shared_start = header.len() - if cols.owners { 4 } else { 0 };
        let mut rows = Rows::new(header.len(), shared_start);
        for h in &header {
            rows.cell(&cells::header_cell(h, style));
        }
        rows.end_row(None);
        Table {
            cols,
            style,
            rows,
            owner_index: HashMap::new(),
            single_owner_index: HashMap::new(),
            unowned_index: HashMap::new(),
        }
    }

    /// Add one socket's row. Cells are formatted straight into the row buffer; owner cells
    /// come from the shared groups.
    pub fn push(&mut self, e: &SocketEntry) {
        let (cols, style) = (self.cols, self.style);
        let rows = &mut self.rows;
        if cols.netns {
            match &e.netns {
                Some(ns) => rows.cell_display(Sanitized(ns)),
                None => rows.cell(""),
            }
        }
        rows.cell(e.proto.as_str());
        if cols.states {
            rows.cell_display(e.state);
        }
        rows.cell_display(Sanitized(LocalEnd::of(e)));
        rows.cell_display(e.local_port);
        if cols.states {
            match (e.remote_address, e.remote_port) {
                (Some(a), Some(p)) => rows.cell_display(Endpoint(a, p)),
                _ => rows.cell(""),
            }
        }
        match &e.service {
            Some(service) => rows.cell(service),
            None => rows.cell_display(format_args!("({})", e.port_range)),
        }
        if style.color {
            rows.cell(&cells::exposure_painted(e));
        } else {
            rows.cell_display(Sanitized(ExposureLabel::of(e)));
        }
        if !cols.owners {
            rows.cell(&cells::user_cell(e));
            rows.end_row(None);
            return;
        }
        let index = if e.processes.is_empty() {
            // Owner-less rows (TIME_WAIT, other users' sockets) differ only by reason and uid.
            let key = (e.owner_unknown_reason, e.uid);
            *self.unowned_index.entry(key).or_insert_with(|| {
                let (pid, process) = cells::owner_cells(e, style);
                rows.share([pid, process, cells::user_cell(e), String::new()])
            })
        } else {
            let share = |rows: &mut Rows| {
                let (pid, process) = cells::owner_cells(e, style);
                rows.share([pid, process, cells::user_cell(e), cells::command_cell(e)])
            };
            match e.processes.as_slice() {
                [one] => *self
                    .single_owner_index
                    .entry(one.pid)
                    .or_insert_with(|| share(rows)),
                many => {
                    let pids: Vec<u32> = many.iter().map(|p| p.pid).collect();
                    *self.owner_index.entry(pids).or_insert_with(|| share(rows))
                }
            }
        };
        rows.end_row(Some(index));
    }

    /// True when no socket row was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.len() <= 1
    }

    /// Write the table (nothing for an empty one).
    ///
    /// # Errors
    /// When writing fails.
    pub fn write(self, out: &mut dyn Write) -> io::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        if self.style.width.is_none() && self.rows.is_plain() {
            return self.rows.write_aligned(out);
        }
        let plan = self
            .style
            .width
            .map(|width| fit::fit_plan(&header(self.cols), self.rows.widths(), width));
        let mut builder = Builder::default();
        for record in self.rows.records() {
            builder.push_record(match &plan {
                // Dropped columns leave the records; the kept ones keep their order.
                Some(plan) => record
                    .into_iter()
                    .zip(plan)
                    .filter(|(_, keep)| **keep != Keep::Drop)
                    .map(|(cell, _)| cell)
                    .collect(),
                None => record,
            });
        }
        drop(self.rows);
        let mut table = builder.build();
        rows::compact(&mut table);
        if let Some(plan) = &plan {
            fit::fit(&mut table, plan);
        }
        let text = table.to_string();
        match self.style.width {
            Some(width) => fit::write_fitted(out, &text, width),
            None => rows::write_trimmed(out, &text),
        }
    }
}

/// The column names of a listing.
fn header(cols: Columns) -> Vec<&'static str> {
    let mut header = Vec::new();
    if cols.netns {
        header.push("NETNS");
    }
    header.push("PROTO");
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
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddrClass, Family, IanaRange, ProcessInfo, Proto, SocketState};
    use rows::visible_width;

    pub(super) fn entry(port: u16, addr: &str) -> SocketEntry {
        SocketEntry {
            user: Some("root".into()),
            port_range: IanaRange::Registered,
            wildcard: false,
            ..SocketEntry::test_listener(addr, port)
        }
    }

    pub(super) fn process(pid: u32, name: &str, user: &str, cmd: &[&str]) -> ProcessInfo {
        ProcessInfo {
            pid,
            fds: Some(vec![6]),
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
        ssh.port_range = IanaRange::System;
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
            netns: false,
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
            netns: false,
        };
        insta::assert_snapshot!(render(&rows, cols, None));
    }

    #[test]
    fn fits_a_narrow_terminal() {
        let cols = Columns {
            states: false,
            owners: true,
            netns: false,
        };
        let text = render(&sample(), cols, Some(100));
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_answer_columns_are_never_cut() {
        let cols = Columns {
            states: true,
            owners: true,
            netns: false,
        };
        // The answer columns of the sample need 58 terminal columns.
        for width in [58, 60, 80, 100] {
            let text = render(&sample(), cols, Some(width));
            for needle in [
                "127.0.0.53%lo",
                "[::] v4+v6",
                "unconnected",
                "2024",
                "1200,1201",
            ] {
                assert!(text.contains(needle), "{width}: {needle} cut in\n{text}");
            }
            assert!(text.lines().all(|l| !l.trim().is_empty()), "{text}");
        }
        // Narrower than the answer: every line is cut at the terminal's edge, visibly.
        let text = render(&sample(), cols, Some(20));
        for line in text.lines() {
            assert!(visible_width(line) <= 20 && line.ends_with('…'), "{text}");
        }
    }

    /// Rows with long cells of every kind: a long command line, wide (CJK, emoji) and combining
    /// characters, a long IPv6 local and remote end with an interface, a long user and process
    /// name, many pids.
    fn long_rows() -> Vec<SocketEntry> {
        let mut rows = sample();
        let mut wide = entry(8443, "2001:db8:1234:5678:9abc:def0:1234:5678");
        wide.state = SocketState::Established;
        wide.remote_address = Some("2001:db8:ffff:eeee:dddd:cccc:bbbb:aaaa".parse().unwrap());
        wide.remote_port = Some(65535);
        wide.interface = Some("very-long-if0".into());
        wide.exposure = Some(AddrClass::Documentation);
        wide.exposure_interface = Some("very-long-if0".into());
        wide.wildcard = true;
        wide.service = Some("a-rather-long-service-name".into());
        let long_cmd = format!(
            "/opt/服务/bin/サーバー --config /etc/😀😀/{}",
            "x".repeat(300)
        );
        wide.processes = (0..5)
            .map(|i| {
                process(
                    70000 + i,
                    "服务器-worker-process-name",
                    "a-very-long-user-name-indeed",
                    &[long_cmd.as_str(), "e\u{301}\u{301}"],
                )
            })
            .collect();
        rows.push(wide);
        rows
    }

    #[test]
    fn the_netns_column_leads_and_names_each_namespace() {
        use crate::model::NetnsInfo;
        let ns = |inode: u64, name: Option<&str>, host: bool| NetnsInfo {
            inode,
            name: name.map(str::to_owned),
            pid: None,
            container: None,
            host,
        };
        let rows = vec![
            SocketEntry {
                netns: Some(ns(1, None, true)),
                ..entry(22, "0.0.0.0")
            },
            SocketEntry {
                netns: Some(ns(2, Some("blue"), false)),
                ..entry(6379, "0.0.0.0")
            },
            SocketEntry {
                netns: Some(ns(3, None, false)),
                ..entry(80, "10.0.0.2")
            },
        ];
        let cols = Columns {
            states: false,
            owners: false,
            netns: true,
        };
        let text = render(&rows, cols, None);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NETNS    PROTO"), "{text}");
        assert!(lines[1].starts_with("host     tcp"), "{text}");
        assert!(lines[2].starts_with("blue     tcp"), "{text}");
        assert!(lines[3].starts_with("net:[3]  tcp"), "{text}");
        // Without the column the table is as before.
        let plain = render(
            &rows,
            Columns {
                netns: false,
                ..cols
            },
            None,
        );
        assert!(plain.starts_with("PROTO"), "{plain}");
    }

    #[test]
    fn no_line_is_wider_than_the_terminal() {
        for states in [false, true] {
            for owners in [false, true] {
                let cols = Columns {
                    states,
                    owners,
                    netns: states,
                };
                for color in [false, true] {
                    for width in 20..=200 {
                        let mut out = Vec::new();
                        sockets(
                            &mut out,
                            &long_rows(),
                            cols,
                            Style {
                                color,
                                width: Some(width),
                            },
                        )
                        .unwrap();
                        let text = String::from_utf8(out).unwrap();
                        for line in text.lines() {
                            assert!(
                                visible_width(line) <= width,
                                "{width} columns, {cols:?}, colour {color}: {} wide:\n{line}\n\n{text}",
                                visible_width(line)
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn empty_list_prints_nothing() {
        let cols = Columns {
            states: false,
            owners: true,
            netns: false,
        };
        assert_eq!(render(&[], cols, None), "");
    }
}
