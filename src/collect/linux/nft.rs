//! The firewall reader: `nft -j list ruleset`, with a time limit and a bound on its output.
//! The text is typed by `model::Ruleset::from_nft_json`; evaluating it is `analyze::firewall`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest output read (a ruleset with tens of thousands of rules stays far below).
const OUTPUT_MAX: u64 = 32 * 1024 * 1024;
/// How long nft may take.
const TIME_LIMIT: Duration = Duration::from_secs(5);

/// The JSON text of the ruleset, or why it cannot be read, with what to do.
pub(crate) fn ruleset_json() -> Result<String, String> {
    let mut child = match Command::new("nft")
        .args(["-j", "list", "ruleset"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                "nft is not installed: install nftables (Debian: apt install nftables) to let portscope read the firewall"
                    .into(),
            );
        }
        Err(e) => return Err(format!("cannot run nft: {e}")),
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(out) = stdout {
            let _ = out.take(OUTPUT_MAX).read_to_string(&mut text);
        }
        let mut err = String::new();
        if let Some(e) = stderr {
            let _ = e.take(64 * 1024).read_to_string(&mut err);
        }
        (text, err)
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < TIME_LIMIT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) | Err(_) => {
                // Our own child: stop it and reap it.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "nft did not answer within {} s",
                    TIME_LIMIT.as_secs()
                ));
            }
        }
    };
    let (text, err) = reader.join().unwrap_or_default();
    if status.success() {
        Ok(text)
    } else if err.contains("Operation not permitted") || err.contains("Permission denied") {
        Err(
            "nft may not list the ruleset without CAP_NET_ADMIN: run portscope check as root"
                .into(),
        )
    } else {
        Err(format!(
            "nft failed: {}",
            err.lines().next().unwrap_or("no message")
        ))
    }
}
