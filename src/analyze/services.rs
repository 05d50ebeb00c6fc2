//! Service names for (port, protocol) (stub, being written).

use crate::model::Proto;

/// Service name database.
#[derive(Debug, Default)]
pub struct ServiceDb;

impl ServiceDb {
    /// Built-in tables only.
    #[must_use]
    pub fn builtin() -> Self {
        ServiceDb
    }

    /// Built-in tables plus the parsed text of an `/etc/services` file.
    #[must_use]
    pub fn with_etc_services(_text: &str) -> Self {
        ServiceDb
    }

    /// Look up a service name.
    #[must_use]
    pub fn lookup(&self, _port: u16, _proto: Proto) -> Option<&str> {
        None
    }
}

/// IANA port range label: "system", "registered" or "dynamic".
#[must_use]
pub fn port_range(port: u16) -> &'static str {
    match port {
        0..=1023 => "system",
        1024..=49151 => "registered",
        _ => "dynamic",
    }
}
