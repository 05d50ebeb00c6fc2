//! The decisions of `portscope kill`.

mod policy;

pub use policy::*;
