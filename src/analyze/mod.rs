//! Pure analysis: functions from collected data to enriched data. Nothing in here reads the
//! system or prints; each part has table-driven unit tests beside it.

pub mod advice;
pub mod allowlist;
pub mod audit;
pub mod baseline;
pub mod check;
pub mod explain;
pub mod exposure;
pub mod filter;
pub mod firewall;
pub mod fleet;
pub mod handshake;
pub mod identify;
pub mod inventory;
pub mod investigation;
pub mod kill;
pub mod owner;
pub mod rules;
pub mod services;
pub mod watch;
