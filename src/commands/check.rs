//! `portscope check`: placeholder.
use std::io::Write;

use anyhow::Result;

use crate::cli::CheckArgs;
use crate::commands::{Env, Outcome};

/// Run `portscope check`.
///
/// # Errors
/// Never yet.
pub fn run(
    _args: &CheckArgs,
    _env: &Env,
    _out: &mut dyn Write,
    _err: &mut dyn Write,
) -> Result<Outcome> {
    anyhow::bail!("not implemented")
}
