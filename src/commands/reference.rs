//! `portscope man [SUBCOMMAND] [--out-dir DIR]` and `portscope completions SHELL`: print (or,
//! for packaging, write) the reference generated from the clap definition by `docgen::man`.
//! Nothing here reads the socket table.

use std::io::Write;

use anyhow::{Context, Result};

use crate::cli::{CompletionsArgs, ManArgs};
use crate::commands::Outcome;
use crate::docgen::man;

/// Run `portscope man`.
///
/// # Errors
/// An unknown subcommand name, or a page that cannot be written.
pub fn run_man(args: &ManArgs, out: &mut dyn Write) -> Result<Outcome> {
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory '{}'", dir.display()))?;
        for (file, text) in man::man_pages()? {
            let path = dir.join(&file);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write '{}'", path.display()))?;
            writeln!(out, "{}", path.display())?;
        }
    } else {
        man::man_page(args.subcommand.as_deref(), out)?;
    }
    out.flush()?;
    Ok(Outcome::Found)
}

/// Run `portscope completions SHELL`.
///
/// # Errors
/// When the script cannot be written.
pub fn run_completions(args: &CompletionsArgs, out: &mut dyn Write) -> Result<Outcome> {
    man::completions(args.shell, out)?;
    out.flush()?;
    Ok(Outcome::Found)
}
