//! Address classification and the exposure of a socket (stub, being written).

use std::net::IpAddr;

use crate::model::{AddrClass, Exposure, InterfaceAddr, RawSocket};

/// Classify one address.
#[must_use]
pub fn classify(_ip: IpAddr) -> AddrClass {
    AddrClass::Public
}

/// Exposure of a socket given the host's interface addresses.
#[must_use]
pub fn exposure(_sock: &RawSocket, _interfaces: &[InterfaceAddr]) -> Exposure {
    Exposure {
        class: None,
        via_address: None,
        via_interface: None,
        wildcard: false,
    }
}
