//! Output formats, and the writer each format has for the listing: a [`ListSink`] takes entries
//! one at a time as analysis produces them, so a busy host's `--all` is never held whole, and
//! ends the output once the warnings are known.
//!
//! Adding a format (ndjson) is one [`Format`] variant and one sink here (plus
//! its `--format` name in `cli`); the command does not change. A sink only writes what it is
//! given: it must not filter, count or decide what is shown, and it never writes stderr itself.

use std::io::{self, Write};

use crate::model::{PidNamespace, SocketEntry, UnixTime};
use crate::render::json::{ListOrigin, ListStream};
use crate::render::prometheus::{self, Counts, Run};
use crate::render::table::{Columns, Table};
use crate::render::{Style, csv};

/// What stdout carries: chosen once per command from `--format` (or `--json`, its short form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns for people, fitted to a terminal and coloured when allowed.
    #[default]
    Table,
    /// One JSON document for scripts (docs/json.md).
    Json,
    /// CSV for spreadsheets (RFC 4180, cells sanitized; docs/formats.md).
    Csv,
    /// The Prometheus text exposition format, for node_exporter's textfile collector
    /// (docs/formats.md).
    Prometheus,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 4] = [Format::Table, Format::Json, Format::Csv, Format::Prometheus];

    /// The formats of the reports that are one document about one port or service (`who`,
    /// `kill`, `check`, `explain`): rows and metrics make no sense there.
    pub const REPORTS: [Format; 2] = [Format::Table, Format::Json];

    /// The name `--format` takes.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Prometheus => "prometheus",
        }
    }
}

/// The formats of a one-port report (`who`, `kill`, `check`, `explain`): [`Format::REPORTS`]
/// as a type, so those commands match exactly the formats they write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// [`Format::Table`].
    Table,
    /// [`Format::Json`].
    Json,
}

impl Format {
    /// This format as a one-port report's, `None` for a format of rows or metrics.
    #[must_use]
    pub fn report(self) -> Option<ReportFormat> {
        match self {
            Format::Table => Some(ReportFormat::Table),
            Format::Json => Some(ReportFormat::Json),
            Format::Csv | Format::Prometheus => None,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known only once every entry has been seen.
#[derive(Debug, Clone, Copy)]
pub struct ListEnd<'a> {
    /// The PID namespace the pids belong to when it is not portscope's own.
    pub pid_namespace: Option<&'a PidNamespace>,
    /// Why the result may be partial.
    pub warnings: &'a [String],
    /// When the run read the clock (the Prometheus format writes it).
    pub time: UnixTime,
}

/// The writer of one output format for the listing.
pub trait ListSink {
    /// What feeding entries into this sink amounts to, as `PORTSCOPE_TIMINGS` names the step
    /// (analysis runs in it too: entries are built as they are fed).
    fn feed_phase(&self) -> &'static str;

    /// Take one entry, in the order shown.
    ///
    /// # Errors
    /// When writing fails (a format that writes as it goes).
    fn entry(&mut self, entry: &SocketEntry) -> io::Result<()>;

    /// Write the rest of the output and flush it; returns the number of entries taken.
    /// `notes` writes the human notes (warnings) on stderr: the sink calls it exactly once,
    /// after everything it has written so far is flushed and before what it writes only now,
    /// so on a terminal the notes follow a streamed document and precede a table that is laid
    /// out at the end.
    ///
    /// # Errors
    /// When writing fails, or what `notes` returns.
    fn finish(
        self: Box<Self>,
        end: &ListEnd<'_>,
        notes: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<usize>;
}

/// The sink of `format` writing to `out`. A document format writes its head at once.
///
/// # Errors
/// When writing the head fails.
pub fn list_sink<'w>(
    format: Format,
    cols: Columns,
    style: Style,
    origin: &ListOrigin<'_>,
    out: &'w mut dyn Write,
) -> io::Result<Box<dyn ListSink + 'w>> {
    Ok(match format {
        Format::Table => Box::new(TableSink {
            table: Table::new(cols, style),
            rows: 0,
            out,
        }),
        Format::Json => Box::new(JsonSink(ListStream::begin_snapshot(out, origin)?)),
        Format::Csv => {
            csv::record(out, &csv::LIST_COLUMNS)?;
            Box::new(CsvSink { rows: 0, out })
        }
        Format::Prometheus => Box::new(PrometheusSink {
            counts: Counts::default(),
            rows: 0,
            out,
        }),
    })
}

/// CSV, one record per entry as it comes; the notes follow it.
struct CsvSink<'w> {
    rows: usize,
    out: &'w mut dyn Write,
}

impl ListSink for CsvSink<'_> {
    fn feed_phase(&self) -> &'static str {
        "analyze and write CSV"
    }

    fn entry(&mut self, entry: &SocketEntry) -> io::Result<()> {
        self.rows += 1;
        csv::record(self.out, &csv::list_row(entry))
    }

    fn finish(
        self: Box<Self>,
        _end: &ListEnd<'_>,
        notes: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<usize> {
        self.out.flush()?;
        notes()?;
        Ok(self.rows)
    }
}

/// Prometheus metrics: entries are only counted; the metrics are written at the end.
struct PrometheusSink<'w> {
    counts: Counts,
    rows: usize,
    out: &'w mut dyn Write,
}

impl ListSink for PrometheusSink<'_> {
    fn feed_phase(&self) -> &'static str {
        "analyze and count for metrics"
    }

    fn entry(&mut self, entry: &SocketEntry) -> io::Result<()> {
        self.rows += 1;
        self.counts.add(entry);
        Ok(())
    }

    fn finish(
        self: Box<Self>,
        end: &ListEnd<'_>,
        notes: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<usize> {
        let PrometheusSink { counts, rows, out } = *self;
        notes()?;
        let run = Run {
            command: "list",
            time: end.time,
            success: true,
            warnings: end.warnings.len(),
        };
        prometheus::write_list(out, &counts, &run)?;
        out.flush()?;
        Ok(rows)
    }
}

/// The table: every row is laid out before the first is written (columns are aligned to
/// their widest cell), so the notes come first.
struct TableSink<'w> {
    table: Table,
    rows: usize,
    out: &'w mut dyn Write,
}

impl ListSink for TableSink<'_> {
    fn feed_phase(&self) -> &'static str {
        "analyze and lay out rows"
    }

    fn entry(&mut self, entry: &SocketEntry) -> io::Result<()> {
        self.table.push(entry);
        self.rows += 1;
        Ok(())
    }

    fn finish(
        self: Box<Self>,
        _end: &ListEnd<'_>,
        notes: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<usize> {
        let TableSink { table, rows, out } = *self;
        notes()?;
        table.write(out)?;
        out.flush()?;
        Ok(rows)
    }
}

/// The JSON document, written entry by entry ([`ListStream`]); the warnings close it, and the
/// notes follow it.
struct JsonSink<'w>(ListStream<&'w mut dyn Write>);

impl ListSink for JsonSink<'_> {
    fn feed_phase(&self) -> &'static str {
        "analyze and write JSON"
    }

    fn entry(&mut self, entry: &SocketEntry) -> io::Result<()> {
        self.0.entry(entry)
    }

    fn finish(
        self: Box<Self>,
        end: &ListEnd<'_>,
        notes: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<usize> {
        let written = self.0.finish(end.pid_namespace, end.warnings)?;
        notes()?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AddrClass;
    use crate::render::{json, table};

    fn entries() -> Vec<SocketEntry> {
        let mut ssh = SocketEntry::test_listener("0.0.0.0", 22);
        ssh.exposure = Some(AddrClass::Public);
        ssh.service = Some("ssh".into());
        vec![ssh, SocketEntry::test_listener("::1", 8080)]
    }

    /// A writer that logs which stream each write went to, so the order of stdout and stderr
    /// can be checked as a terminal would show it.
    #[derive(Default)]
    struct Log(Vec<(char, String)>);

    fn through_sink(format: Format, entries: &[SocketEntry], warnings: &[String]) -> Log {
        let cols = Columns {
            states: false,
            owners: true,
            netns: false,
        };
        let log = std::cell::RefCell::new(Log::default());
        struct Out<'a>(&'a std::cell::RefCell<Log>);
        impl Write for Out<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let text = String::from_utf8_lossy(buf).into_owned();
                self.0.borrow_mut().0.push(('o', text));
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = Out(&log);
        let origin = ListOrigin {
            host: Some("web1"),
            taken_at: UnixTime(7),
        };
        let mut sink = list_sink(format, cols, Style::plain(), &origin, &mut out).unwrap();
        for e in entries {
            sink.entry(e).unwrap();
        }
        let end = ListEnd {
            pid_namespace: None,
            warnings,
            time: UnixTime(7),
        };
        let n = sink
            .finish(&end, &mut || {
                log.borrow_mut().0.push(('e', "notes".into()));
                Ok(())
            })
            .unwrap();
        assert_eq!(n, entries.len());
        log.into_inner()
    }

    fn stdout_of(log: &Log) -> String {
        log.0
            .iter()
            .filter(|(s, _)| *s == 'o')
            .map(|(_, t)| t.as_str())
            .collect()
    }

    /// The sinks write exactly what the table and the JSON document write on their own.
    #[test]
    fn sinks_write_what_their_format_writes() {
        let all = entries();
        let warnings = ["a warning".to_string()];
        for n in 0..=all.len() {
            let shown = &all[..n];
            let mut table_text = Vec::new();
            let cols = Columns {
                states: false,
                owners: true,
                netns: false,
            };
            table::sockets(&mut table_text, shown, cols, Style::plain()).unwrap();
            let log = through_sink(Format::Table, shown, &warnings);
            assert_eq!(stdout_of(&log).as_bytes(), &table_text[..], "{n} entries");

            let mut json_text = Vec::new();
            json::write(
                &mut json_text,
                &json::SnapshotDocument {
                    schema_version: json::SCHEMA_VERSION,
                    origin: ListOrigin {
                        host: Some("web1"),
                        taken_at: UnixTime(7),
                    },
                    sockets: shown,
                    pid_namespace: None,
                    warnings: &warnings,
                },
            )
            .unwrap();
            let log = through_sink(Format::Json, shown, &warnings);
            assert_eq!(stdout_of(&log).as_bytes(), &json_text[..], "{n} entries");
        }
    }

    /// Notes precede the table (laid out at the end) and follow the JSON document (streamed).
    #[test]
    fn notes_come_where_the_format_needs_them() {
        let all = entries();
        let table = through_sink(Format::Table, &all, &[]);
        assert_eq!(table.0.first().map(|(s, _)| *s), Some('e'));
        assert!(table.0.iter().skip(1).all(|(s, _)| *s == 'o'));
        let json = through_sink(Format::Json, &all, &[]);
        assert_eq!(json.0.last().map(|(s, _)| *s), Some('e'));
        assert_eq!(json.0.iter().filter(|(s, _)| *s == 'e').count(), 1);
        let csv = through_sink(Format::Csv, &all, &[]);
        assert_eq!(csv.0.last().map(|(s, _)| *s), Some('e'));
        let metrics = through_sink(Format::Prometheus, &all, &[]);
        assert_eq!(metrics.0.first().map(|(s, _)| *s), Some('e'));
    }

    /// The CSV and Prometheus sinks write what their writers write for the same entries.
    #[test]
    fn csv_and_metric_sinks() {
        let all = entries();
        let warnings = ["a warning".to_string()];
        let log = through_sink(Format::Csv, &all, &warnings);
        let mut want = Vec::new();
        csv::record(&mut want, &csv::LIST_COLUMNS).unwrap();
        for e in &all {
            csv::record(&mut want, &csv::list_row(e)).unwrap();
        }
        assert_eq!(stdout_of(&log).as_bytes(), &want[..]);

        let log = through_sink(Format::Prometheus, &all, &warnings);
        let mut want = Vec::new();
        let run = Run {
            command: "list",
            time: UnixTime(7),
            success: true,
            warnings: 1,
        };
        prometheus::write_list(&mut want, &Counts::of(&all), &run).unwrap();
        assert_eq!(stdout_of(&log).as_bytes(), &want[..]);
    }

    #[test]
    fn format_names() {
        let names: Vec<String> = Format::ALL.iter().map(Format::to_string).collect();
        assert_eq!(names, ["table", "json", "csv", "prometheus"]);
        assert_eq!(Format::default(), Format::Table);
        let reports: Vec<Format> = Format::ALL
            .into_iter()
            .filter(|f| f.report().is_some())
            .collect();
        assert_eq!(reports, Format::REPORTS);
    }
}
