//! Rendering (stub, being written).
