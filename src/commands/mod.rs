//! Subcommands (stub, being written).
