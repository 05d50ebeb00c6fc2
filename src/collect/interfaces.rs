//! Local interface addresses: every address on every interface of this network namespace, up or
//! down, link-local included, listed through the `if-addrs` crate (built with its `link-local`
//! feature, which otherwise drops fe80::/10).
//!
//! This module only lists addresses. It must not classify them (that is
//! [`crate::analyze::exposure`]), filter them, or send any traffic.

use crate::collect::CollectError;
use crate::model::InterfaceAddr;

/// Every address on every local interface, link-local included, grouped by interface index
/// (ascending; addresses without an index last) and otherwise in the order the OS lists them.
///
/// The index is the interface's, so a scoped IPv6 address (`fe80::1%eth0`) keeps its scope
/// as `index`. Addresses of interfaces that are down are listed too: a wildcard bind covers them
/// as soon as the interface comes up.
///
/// Platforms: on Linux, the BSDs and macOS the list comes from `getifaddrs(3)` and the index from
/// `if_nametoindex(3)`; IPv4 alias labels (`eth0:1`) keep their label as the name. On Windows it
/// comes from `GetAdaptersAddresses`, with the IPv4 or IPv6 interface index of each address. Only
/// the caller's network namespace is visible.
///
/// # Errors
/// [`CollectError::Interfaces`] when the OS refuses to list interfaces (`getifaddrs` failed, e.g.
/// out of memory or file descriptors).
pub fn interfaces() -> Result<Vec<InterfaceAddr>, CollectError> {
    let mut list: Vec<InterfaceAddr> = if_addrs::get_if_addrs()
        .map_err(CollectError::Interfaces)?
        .into_iter()
        .map(|iface| InterfaceAddr {
            addr: iface.ip(),
            index: iface.index,
            name: iface.name,
        })
        .collect();
    // getifaddrs lists every IPv4 address before any IPv6 one; grouping by interface gives the
    // "interface order" that exposure ties are broken by. The sort is stable, so addresses of one
    // interface keep the OS's order.
    list.sort_by_key(|ifa| (ifa.index.is_none(), ifa.index));
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the loopback interface is administratively up, or why it cannot be told.
    #[cfg(target_os = "linux")]
    fn loopback_up() -> Result<bool, String> {
        let raw = std::fs::read_to_string("/sys/class/net/lo/flags")
            .map_err(|e| format!("cannot read /sys/class/net/lo/flags: {e}"))?;
        let flags = u32::from_str_radix(raw.trim().trim_start_matches("0x"), 16)
            .map_err(|e| format!("unexpected /sys/class/net/lo/flags {raw:?}: {e}"))?;
        Ok(flags & 0x1 != 0) // IFF_UP
    }

    /// Other systems always have an up `lo0`.
    #[cfg(not(target_os = "linux"))]
    fn loopback_up() -> Result<bool, String> {
        Ok(true)
    }

    #[test]
    fn lists_a_loopback_address_when_lo_is_up() {
        match loopback_up() {
            Ok(true) => {}
            Ok(false) => {
                if crate::testing::skip("the loopback interface is down in this network namespace")
                {
                    return;
                }
            }
            Err(reason) => {
                if crate::testing::skip(&reason) {
                    return;
                }
            }
        }
        let list = interfaces().unwrap();
        assert!(
            list.iter().any(|ifa| ifa.addr.is_loopback()),
            "no loopback address among {list:?}"
        );
    }

    #[test]
    fn addresses_are_grouped_by_index_and_indexed() {
        let list = interfaces().unwrap();
        let keys: Vec<_> = list
            .iter()
            .map(|ifa| (ifa.index.is_none(), ifa.index))
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] <= w[1]),
            "not grouped by index: {list:?}"
        );
        // Unix resolves every listed name to an index; link-local IPv6 needs it as its scope.
        #[cfg(unix)]
        for ifa in &list {
            assert!(ifa.index.is_some_and(|i| i > 0), "no index for {ifa:?}");
        }
    }
}
