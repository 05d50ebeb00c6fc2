//! Running a helper program with a time limit and a bound on what is read of its output: the
//! firewall readers (`nft`, `iptables-save`) on Linux and `netsh` on Windows. The child is
//! portscope's own, so on a timeout it is killed and reaped; its output is read on a thread so
//! that a full pipe cannot stall it.

use std::io::{self, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// At most this much of a program's standard error is kept (for its first line).
const STDERR_MAX: u64 = 64 * 1024;

/// What a bounded run produced.
#[derive(Debug)]
pub(crate) struct Output {
    /// The program exited with status 0.
    pub success: bool,
    /// Its standard output, at most the bound asked for, invalid UTF-8 replaced.
    pub stdout: String,
    /// Its standard error, at most [`STDERR_MAX`] bytes, invalid UTF-8 replaced.
    #[cfg_attr(windows, allow(dead_code, reason = "netsh's messages are not shown"))]
    pub stderr: String,
}

/// Why a program produced no [`Output`].
#[derive(Debug)]
pub(crate) enum RunError {
    /// It is not installed (not found on `PATH`).
    Missing,
    /// It could not be started.
    Spawn(
        #[cfg_attr(windows, allow(dead_code, reason = "netsh's failures are not shown"))] io::Error,
    ),
    /// It did not exit within the time limit (it was killed).
    TimedOut,
}

/// Run `program args` with no input, wait at most `limit` for it to exit, and keep at most
/// `stdout_max` bytes of its standard output.
pub(crate) fn run_bounded(
    program: &str,
    args: &[&str],
    limit: Duration,
    stdout_max: u64,
) -> Result<Output, RunError> {
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(RunError::Missing),
        Err(e) => return Err(RunError::Spawn(e)),
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let read = |pipe: Option<Box<dyn Read>>, max: u64| {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(max).read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let out = read(stdout.map(|p| Box::new(p) as Box<dyn Read>), stdout_max);
        let err = read(stderr.map(|p| Box::new(p) as Box<dyn Read>), STDERR_MAX);
        (out, err)
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                // Our own child: stop it and reap it.
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::TimedOut);
            }
        }
    };
    let (stdout, stderr) = reader.join().unwrap_or_default();
    Ok(Output {
        success: status.success(),
        stdout,
        stderr,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn output_and_status() {
        let out = run_bounded("sh", &["-c", "echo out; echo err >&2"], 5 * SECOND, 1024).unwrap();
        assert!(out.success);
        assert_eq!(
            (out.stdout.as_str(), out.stderr.as_str()),
            ("out\n", "err\n")
        );
        let failed = run_bounded("sh", &["-c", "exit 3"], 5 * SECOND, 1024).unwrap();
        assert!(!failed.success);
    }

    #[test]
    fn missing_program() {
        let result = run_bounded("portscope-no-such-program", &[], SECOND, 1024);
        assert!(matches!(result, Err(RunError::Missing)), "{result:?}");
    }

    #[test]
    fn output_is_bounded_and_a_slow_program_is_stopped() {
        // 100 KB written, 1,000 bytes kept; the writer then meets a closed pipe and exits.
        let out = run_bounded("sh", &["-c", "head -c 100000 /dev/zero"], 5 * SECOND, 1000).unwrap();
        assert_eq!(out.stdout.len(), 1000);
        let started = Instant::now();
        let result = run_bounded("sleep", &["30"], Duration::from_millis(200), 1024);
        assert!(matches!(result, Err(RunError::TimedOut)), "{result:?}");
        assert!(started.elapsed() < 10 * SECOND);
    }
}
