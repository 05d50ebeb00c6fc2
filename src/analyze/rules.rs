//! Audit rules as data (stub, being written).
