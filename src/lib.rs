//! portscope: what is listening on this machine, who holds a port, and what is exposed.
//!
//! The crate is a library with a thin binary. Data flows one way: `cli` (arguments) →
//! `collect` (the only code that reads the system's state or acts on other processes: one
//! [`collect::Platform`] per OS, held by a [`collect::Collector`] with its caches) → `model`
//! (plain data, a [`model::Snapshot`]) → `analyze` (pure functions) → `render` (table or
//! JSON). `commands` compose those steps, one module per subcommand, reading the system only
//! through the collector that [`commands::Env`] carries: `main` builds it from `--proc-root`,
//! tests inject recorded data. `docgen` renders reference documents from the domain, above all
//! of it: `docs/rules.md` (in tests) and the man pages and shell completions (`portscope man`,
//! `portscope completions`).

//!
//! The public surface is small on purpose: [`run`] (the program), [`model`] (the plain data,
//! which tests and other programs parse `--json` back into) and [`json`] (the JSON documents
//! and their writer). Everything else is private to the crate, so the compiler reports what is
//! no longer used.

pub(crate) mod analyze;
mod app;
pub(crate) mod cli;
pub(crate) mod collect;
pub(crate) mod commands;
mod docgen;
pub mod model;
pub(crate) mod render;
#[cfg(test)]
pub(crate) mod testing;

pub use app::run;
pub use render::json;
