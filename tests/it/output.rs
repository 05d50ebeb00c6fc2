//! What reaches the user: JSON documents, `--format`, exit codes with closed pipes and full
//! disks, escaped process names, and the table on a terminal (pseudo-terminals from script(1)).

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use crate::common::*;

/// `--all --json` is streamed one entry at a time: it must parse, hold our sockets, and be
/// byte for byte the document the whole list would serialize to.
#[test]
fn all_json_is_streamed_as_the_whole_document() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    let udp = udp_bound("127.0.0.1");
    let out = portscope(&["--all", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: ListDoc = serde_json::from_slice(&out.stdout).expect("--all --json parses");
    for fd in [
        &listener.as_raw_fd(),
        &client.as_raw_fd(),
        &server.as_raw_fd(),
        &udp.as_raw_fd(),
    ] {
        assert_eq!(ours(&doc, fd).len(), 1, "socket fd {fd} missing");
    }
    let mut whole = Vec::new();
    portscope::json::write(
        &mut whole,
        &portscope::json::SnapshotDocument {
            schema_version: doc.schema_version,
            origin: portscope::json::ListOrigin {
                host: doc.host.as_deref(),
                taken_at: doc.taken_at,
            },
            sockets: &doc.sockets,
            pid_namespace: doc.pid_namespace.as_ref(),
            warnings: &doc.warnings,
        },
    )
    .unwrap();
    assert!(
        out.stdout == whole,
        "streamed output differs from the whole document:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn nothing_matched_exits_1_and_bad_input_exits_2() {
    // Port 1 (tcpmux) is not listened on by anything that runs these tests.
    let out = portscope(&["--port", "1", "-t"]);
    assert_eq!(out.status.code(), Some(1));
    for (args, needle) in [
        (vec!["--port", "99999"], "99999"),
        (vec!["--port", "abc"], "abc"),
        (vec!["--port", "0"], "'0'"),
        (vec!["--bogus-flag"], "--bogus-flag"),
        (vec!["--state", "nope"], "nope"),
        (vec!["--exposure", "internet"], "internet"),
    ] {
        let out = portscope(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

/// `--format json` is `--json` for every command; `--json --format table` is one usage line.
#[test]
fn format_json_is_json_and_a_contradiction_exits_2() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let port = port.to_string();
    for command in [&[][..], &["who", port.as_str()], &["audit"]] {
        let mut args = command.to_vec();
        args.extend(["--format", "json"]);
        let out = portscope(&args);
        let value: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"));
        assert_eq!(value["schema_version"], 1, "{args:?}");
        let mut args = command.to_vec();
        args.extend(["--json", "--format", "table"]);
        let out = portscope(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("--format table"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let doc = list_json(&["--format", "json", "--port", &port]);
    assert_eq!(ours(&doc, &listener.as_raw_fd()).len(), 1);
}

#[test]
fn closed_pipe_is_not_an_error() {
    let _keep: Vec<TcpListener> = (0..50)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    for args in [["--all", "--color", "never"], ["--all", "--json", "-t"]] {
        let mut child = Command::new(bin())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let stderr = read_all(child.stderr.take().unwrap());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?} stderr: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }
}

/// Issue 8: `--help` and `--version` written to a full disk exited 0 with the text lost. A
/// failed write is an error (exit 2, one line on stderr); a closed pipe still is not.
#[test]
fn help_and_version_to_a_full_disk_fail() {
    for args in [
        vec!["--help"],
        vec!["-h"],
        vec!["--version"],
        vec!["who", "--help"],
        vec!["audit", "--help"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(bin())
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("cannot write") && err.contains("No space left"),
            "{args:?}: {err}"
        );

        let mut child = Command::new(bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let stderr = read_all(child.stderr.take().unwrap());
        assert_eq!(child.wait().unwrap().code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// A closed pipe keeps the command's own exit code: `who` on a free port is still 1.
#[test]
fn closed_pipe_keeps_the_exit_code() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        port_of(l.local_addr())
    };
    let mut child = Command::new(bin())
        .args(["who", &format!("{port}/tcp"), "--color", "never"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let stderr = read_all(child.stderr.take().unwrap());
    assert_eq!(child.wait().unwrap().code(), Some(1), "{stderr}");
}

#[test]
fn escape_sequences_in_process_names_are_shown_not_executed() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("ev\x1b[31mil");
    std::fs::copy("/bin/sleep", &evil).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let mut cmd = Command::new(&evil);
    std::os::unix::process::CommandExt::arg0(&mut cmd, "ev\x1b[31mil\x07");
    cmd.arg("60");
    let child = spawn_holding(cmd, &[listener.as_raw_fd()]);
    let out = portscope(&["--color", "never", "--port", &port.to_string()]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        !table.contains('\x1b') && !table.contains('\x07'),
        "{table:?}"
    );
    assert!(table.contains("ev\\x1b[31mil"), "{table}");
    // JSON keeps the real bytes, escaped by the JSON encoder.
    let doc = list_json(&["--port", &port.to_string()]);
    let p = ours(&doc, &listener)[0]
        .processes
        .iter()
        .find(|p| p.pid == child.pid())
        .unwrap();
    assert_eq!(p.name.as_deref(), Some("ev\x1b[31mil"));
    drop(child);
}

/// `portscope ARGS` on a pseudo-terminal (script(1)) of `cols` columns with `TERM` set as
/// given: what the terminal shows, colour sequences included.
fn on_terminal(term: &str, cols: u16, args: &str) -> String {
    on_terminal_rows(term, cols, 50, args)
}

/// [`on_terminal`] with the terminal's row count too: a `script` session that only sets the
/// columns reports 0 rows.
fn on_terminal_rows(term: &str, cols: u16, rows: u16, args: &str) -> String {
    let cmd = format!("stty cols {cols} rows {rows}; exec {} {args}", bin());
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("TERM", term)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n")
}

/// Terminal columns of an ASCII line that may hold colour sequences.
fn shown_columns(line: &str) -> usize {
    let mut n = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(char::is_ascii_alphabetic);
        } else {
            n += 1;
        }
    }
    n
}

/// On a terminal no row is wider than the terminal (the long command line is cut with `…`);
/// `TERM=dumb` gets no colour unless `--color always` forces it.
#[test]
fn terminal_rows_fit_and_dumb_terminals_get_no_colour() {
    if !have("script") && skip("needs script(1) (bsdutils) for a pseudo-terminal") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        &format!("sleep 60; : {}", "long-argument-".repeat(20)),
    ]);
    let child = spawn_holding(cmd, &[listener.as_raw_fd()]);
    drop(listener);
    let args = format!("--port {port}");
    // At 60 columns COMMAND is dropped whole; at 100 and 200 it is cut.
    for (term, cols, extra, colour) in [
        ("dumb", 60, "", false),
        ("xterm-256color", 60, "", true),
        ("dumb", 60, "--color always", true),
        ("xterm-256color", 100, "--color never", false),
        ("xterm-256color", 200, "", true),
    ] {
        let text = on_terminal(term, cols, &format!("{args} {extra}"));
        assert_eq!(
            text.contains('\x1b'),
            colour,
            "TERM={term} {extra}: {text:?}"
        );
        let row = text
            .lines()
            .find(|l| l.contains(&child.pid().to_string()))
            .unwrap_or_else(|| panic!("no row of pid {}: {text}", child.pid()));
        if cols > 60 {
            assert!(row.contains("sh -c sleep 60"), "{cols}: {row}");
            assert!(row.ends_with('…'), "{cols}: command not cut: {row:?}");
        }
        for line in text.lines() {
            assert!(shown_columns(line) <= usize::from(cols), "{cols}: {line:?}");
        }
    }
    // Review of issue 8: a terminal that reports 0 rows (`stty cols 40` alone in a `script`
    // session) was not fitted at all; its columns count.
    let text = on_terminal_rows("dumb", 40, 0, &args);
    assert!(text.contains(&child.pid().to_string()), "{text}");
    for line in text.lines() {
        assert!(shown_columns(line) <= 40, "0 rows: {line:?}");
    }
    // A pipe gets the whole command line.
    let out = portscope(&["--color", "never", "--port", &port.to_string()]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains(&"long-argument-".repeat(20)), "{table}");
}

#[test]
fn table_has_header_and_own_row() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let out = portscope(&["--color", "never", "--port", &port.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8(out.stdout).unwrap();
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for col in [
        "PROTO", "ADDRESS", "PORT", "SERVICE", "EXPOSURE", "PID", "PROCESS", "USER", "COMMAND",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(
        row.contains(&port.to_string()) && row.contains(&std::process::id().to_string()),
        "{row}"
    );
    assert!(!table.contains('\x1b'), "no colour when not a terminal");
    let forced = portscope(&["--color", "always", "--port", &port.to_string()]);
    assert!(String::from_utf8(forced.stdout).unwrap().contains('\x1b'));
}
