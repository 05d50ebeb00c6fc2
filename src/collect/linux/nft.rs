//! The firewall reader: `nft -j list ruleset`, or where nft is not installed `iptables-save`
//! and `ip6tables-save`, each with a time limit and a bound on its output. The text is typed
//! by `model::Ruleset::from_text`; evaluating it is `analyze::firewall`.

use std::time::Duration;

use crate::collect::command;
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
/// [`TIME_LIMIT`] (`collect::command`), or why not in words.
fn run_bounded(program: &str, args: &[&str]) -> Result<String, RunError> {
    let out = match command::run_bounded(program, args, TIME_LIMIT, OUTPUT_MAX) {
        Ok(out) => out,
        Err(command::RunError::Missing) => return Err(RunError::Missing),
        Err(command::RunError::Spawn(e)) => {
            return Err(RunError::Failed(format!("cannot run {program}: {e}")));
        }
        Err(command::RunError::TimedOut) => {
            return Err(RunError::Failed(format!(
                "{program} did not answer within {} s",
                TIME_LIMIT.as_secs()
            )));
        }
    };
    let err = &out.stderr;
    if out.success {
        Ok(out.stdout)
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
