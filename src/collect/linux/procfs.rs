//! `/proc` reader (stub, being written).
