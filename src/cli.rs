//! Command-line arguments (stub, being written).
