//! portscope: what is listening on this machine, who holds a port, and what is exposed.
//!
//! The crate is a library with a thin binary. Data flows one way:
//! `cli` → `collect` (the only code that touches the OS) → `model` (plain data) →
//! `analyze` (pure functions) → `render` (table or JSON). `commands` compose those steps, one
//! module per subcommand. `docgen` (compiled for tests only) renders reference documents such as
//! `docs/rules.md` from the domain, above all of it.

pub mod analyze;
pub mod cli;
pub mod collect;
pub mod commands;
#[cfg(test)]
mod docgen;
pub mod model;
pub mod render;
#[cfg(test)]
pub(crate) mod testing;
