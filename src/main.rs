//! The `portscope` binary (stub, being written).
fn main() {}
