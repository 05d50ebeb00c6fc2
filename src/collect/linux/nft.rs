//! The firewall reader: `nft -j list ruleset`, or where nft is not installed `iptables-save`
//! and `ip6tables-save`, each with a time limit and a bound on its output. The text is typed
//! by `model::Ruleset::from_text`; evaluating it is `analyze::firewall`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::model::FirewallText;

/// Longest output read (a ruleset with tens of thousands of rules stays far below).
const OUTPUT_MAX: u64 = 32 * 1024 * 1024;
/// How long nft may take.
const TIME_LIMIT: Duration = Duration::from_secs(5);

/// The firewall's text: `nft -j list ruleset`, or where nft is not installed the output of
/// `iptables-save` and `ip6tables-save` (nft stays first when both exist); or why neither can
/// be read, with what to do.
pub(crate) fn firewall_text() -> Result<FirewallText, String> {
    match run_bounded("nft", &["-j", "list", "ruleset"]) {
        Ok(text) => return Ok(FirewallText::NftJson(text)),
        Err(RunError::Missing) => {}
        Err(RunError::Failed(why)) => return Err(why),
    }
    let read = |program: &str| match run_bounded(program, &[]) {
        Ok(text) => Ok(Some(text)),
        Err(RunError::Missing) => Ok(None),
        Err(RunError::Failed(why)) => Err(why),
    };
    let v4 = read("iptables-save")?;
    let v6 = read("ip6tables-save")?;
    if v4.is_none() && v6.is_none() {
        return Err(
            "neither nft nor iptables-save is installed: install nftables (Debian: apt install nftables) to let portscope read the firewall"
                .into(),
        );
    }
    Ok(FirewallText::IptablesSave { v4, v6 })
}

/// Why a program's output could not be read.
enum RunError {
    /// It is not installed.
    Missing,
    /// It failed, timed out or was not permitted (the message says which, with a hint).
    Failed(String),
}

/// The standard output of `program args`, read bounded ([`OUTPUT_MAX`]) within
/// [`TIME_LIMIT`].
fn run_bounded(program: &str, args: &[&str]) -> Result<String, RunError> {
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RunError::Missing),
        Err(e) => return Err(RunError::Failed(format!("cannot run {program}: {e}"))),
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
                return Err(RunError::Failed(format!(
                    "{program} did not answer within {} s",
                    TIME_LIMIT.as_secs()
                )));
            }
        }
    };
    let (text, err) = reader.join().unwrap_or_default();
    if status.success() {
        Ok(text)
    } else if err.contains("Operation not permitted") || err.contains("Permission denied") {
        Err(RunError::Failed(format!(
            "{program} may not list the ruleset without CAP_NET_ADMIN: run portscope check as root"
        )))
    } else {
        Err(RunError::Failed(format!(
            "{program} failed: {}",
            err.lines().next().unwrap_or("no message")
        )))
    }
}
