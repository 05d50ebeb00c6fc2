//! Facts about the host beyond its socket table, as a platform backend reports them: the port
//! sysctls, the outcome of a bind probe, the raw facts about one owning process (its cgroup
//! text and parent chain) and who a process is independently of the proc filesystem it is seen
//! through.
//!
//! Plain data: nothing here reads the system (the backends in `collect` fill these values) or
//! interprets them (`analyze` does: cgroup paths, advice, whom to signal).

use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{PortRange, Proto};

/// The kernel's port settings that matter when a bind fails. Each field is `None` where the
/// platform does not have the setting or it could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSettings {
    /// `net.ipv4.ip_local_port_range`: the ephemeral range for outgoing connections. JSON
    /// writes it `[low, high]`.
    #[serde(with = "low_high")]
    pub ephemeral_range: Option<PortRange>,
    /// `net.ipv4.ip_local_reserved_ports` (`8080,9000-9010`). JSON writes it as the kernel did.
    pub reserved_ports: Option<PortList>,
    /// `net.ipv4.ip_unprivileged_port_start`: lower ports need privileges to bind.
    pub unprivileged_port_start: Option<u16>,
    /// Windows' excluded port ranges (`netsh int ipv4|ipv6 show excludedportrange`): ports no
    /// program may bind. `None` where the platform has none (Linux, macOS) or `netsh` could not
    /// be read; left out of the JSON then, so the Linux document is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_ranges: Option<Vec<ExcludedPortRange>>,
}

/// One range of Windows' excluded ports: reserved by the system (Hyper-V, WinNAT, Docker
/// Desktop and WSL take such ranges at boot) or by an administrator, for one protocol. Binding
/// a port in it fails with WSAEACCES ("access permissions") although nothing listens there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedPortRange {
    /// Protocol of the exclusion.
    pub proto: Proto,
    /// IPv6 (`netsh int ipv6 …`) rather than IPv4.
    pub ipv6: bool,
    /// First port.
    pub start: u16,
    /// Last port (inclusive).
    pub end: u16,
    /// Marked `*` by netsh: an administered exclusion (added with `netsh … add
    /// excludedportrange`), not one the system reserved dynamically.
    pub administered: bool,
}

impl ExcludedPortRange {
    /// True when `port` lies in the range.
    #[must_use]
    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }

    /// The ranges in the text `netsh int ipv4|ipv6 show excludedportrange protocol=tcp|udp`
    /// prints: every line made of a start port, an end port and an optional `*` (administered).
    /// Headings, the dashed rule and the footnote are skipped, whatever their language, since
    /// only the data lines are two port numbers.
    #[must_use]
    pub fn parse_netsh(text: &str, proto: Proto, ipv6: bool) -> Vec<ExcludedPortRange> {
        text.lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let start = words.next()?.parse::<u16>().ok()?;
                let end = words.next()?.parse::<u16>().ok()?;
                let administered = match words.next() {
                    None => false,
                    Some("*") => true,
                    Some(_) => return None,
                };
                (words.next().is_none() && start <= end).then_some(ExcludedPortRange {
                    proto,
                    ipv6,
                    start,
                    end,
                    administered,
                })
            })
            .collect()
    }
}

/// `ephemeral_range` as JSON has always written it: `[low, high]`.
mod low_high {
    use super::{Deserialize, Deserializer, PortRange, Serialize, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` hands over a reference to the field
    pub fn serialize<S: Serializer>(range: &Option<PortRange>, s: S) -> Result<S::Ok, S::Error> {
        range.map(|r| (r.start, r.end)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PortRange>, D::Error> {
        let pair = Option::<(u16, u16)>::deserialize(d)?;
        Ok(pair.map(|(start, end)| PortRange { start, end }))
    }
}

/// A list of ports and ranges as a sysctl writes it (`8080,9000-9010`): the text, kept as
/// written for the reports, and the ranges it lists, for the decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortList {
    text: String,
    ranges: Vec<PortRange>,
}

impl PortList {
    /// The list in `text`: comma-separated ports and `low-high` ranges, blanks around an item
    /// ignored. An item that is not a port range ([`PortRange::parse`]: port 0, a word) lists
    /// nothing; the kernel writes none, and the text is kept whole either way.
    #[must_use]
    pub fn parse(text: &str) -> PortList {
        let ranges = text
            .split(',')
            .filter_map(|item| PortRange::parse(item.trim()).ok())
            .collect();
        PortList {
            text: text.to_owned(),
            ranges,
        }
    }

    /// True when `port` is one of the ports listed.
    #[must_use]
    pub fn contains(&self, port: u16) -> bool {
        self.ranges.iter().any(|r| r.contains(port))
    }

    /// The ranges listed, in the order written.
    #[must_use]
    pub fn ranges(&self) -> &[PortRange] {
        &self.ranges
    }

    /// The list as it was written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Serialize for PortList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PortList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PortList, D::Error> {
        String::deserialize(d).map(|text| PortList::parse(&text))
    }
}

/// What the kernel said to one bind of the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// The bind succeeded: nothing on this address blocks the port.
    Free,
    /// EADDRINUSE: a socket (listener, bound socket or TIME_WAIT) blocks the bind.
    InUse,
    /// EACCES: binding needs privileges (below `net.ipv4.ip_unprivileged_port_start`).
    PermissionDenied,
    /// EADDRNOTAVAIL or EAFNOSUPPORT: the address is not configured (e.g. no IPv6).
    AddressUnavailable,
    /// Any other error (see `error`).
    Error,
}

impl ProbeOutcome {
    /// snake_case name as in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeOutcome::Free => "free",
            ProbeOutcome::InUse => "in_use",
            ProbeOutcome::PermissionDenied => "permission_denied",
            ProbeOutcome::AddressUnavailable => "address_unavailable",
            ProbeOutcome::Error => "error",
        }
    }
}

/// One probed (protocol, address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Protocol probed.
    pub proto: Proto,
    /// Address probed.
    pub address: IpAddr,
    /// What happened.
    pub result: ProbeOutcome,
    /// The OS error text, `None` when the bind succeeded.
    pub error: Option<String>,
}

/// One ancestor of an owning process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ancestor {
    /// Process id.
    pub pid: u32,
    /// Its `comm` name, `None` when unreadable.
    pub name: Option<String>,
}

/// What the system says about one owner beyond [`super::ProcessInfo`]: on Linux,
/// `/proc/PID/cgroup` and the `stat` files of its parents. Empty where the platform cannot say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerRaw {
    /// Text of `/proc/PID/cgroup`.
    pub cgroup: Option<String>,
    /// Parent, grandparent, … up to and including pid 1 (or as far as readable).
    pub ancestors: Vec<Ancestor>,
    /// True for a kernel thread.
    pub kernel_thread: bool,
}

/// Who a process is, independently of the proc filesystem it is looked at through: what
/// `portscope kill` compares before it signals a pid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcIdentity {
    /// Inode of the process's own (innermost) PID namespace; `None` when `ns/pid` is
    /// unreadable (another user's process without privileges, a fixture tree) or the platform
    /// has no PID namespaces.
    pub ns: Option<u64>,
    /// Its pid in that namespace: the last `NSpid:` entry.
    pub ns_pid: Option<u32>,
    /// Start time in clock ticks since boot (`stat` field 22).
    pub start_ticks: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists() {
        let r = |start, end| PortRange { start, end };
        // (text, ranges, a port in it, a port not in it)
        let cases = [
            ("8080", vec![r(8080, 8080)], Some(8080), 8081),
            (
                "1,9000-9010",
                vec![r(1, 1), r(9000, 9010)],
                Some(9005),
                9011,
            ),
            (" 22 , 80-81 ", vec![r(22, 22), r(80, 81)], Some(81), 79),
            ("", vec![], None, 8080),
            // Not ranges: listed nothing, as before the list was typed.
            ("0,x,9010-9000,70000", vec![], None, 9005),
            ("443,junk", vec![r(443, 443)], Some(443), 0),
        ];
        for (text, ranges, inside, outside) in cases {
            let list = PortList::parse(text);
            assert_eq!(list.ranges(), ranges.as_slice(), "{text:?}");
            assert_eq!(list.as_str(), text);
            if let Some(port) = inside {
                assert!(list.contains(port), "{text:?} {port}");
            }
            assert!(!list.contains(outside), "{text:?} {outside}");
        }
    }

    #[test]
    fn settings_json_keeps_its_shape() {
        let settings = PortSettings {
            ephemeral_range: Some(PortRange {
                start: 32768,
                end: 60999,
            }),
            reserved_ports: Some(PortList::parse("8080,9000-9010")),
            unprivileged_port_start: Some(1024),
            excluded_ranges: None,
        };
        let json = serde_json::to_string(&settings).unwrap();
        assert_eq!(
            json,
            r#"{"ephemeral_range":[32768,60999],"reserved_ports":"8080,9000-9010","unprivileged_port_start":1024}"#
        );
        assert_eq!(
            serde_json::from_str::<PortSettings>(&json).unwrap(),
            settings
        );
        assert_eq!(
            serde_json::to_string(&PortSettings::default()).unwrap(),
            r#"{"ephemeral_range":null,"reserved_ports":null,"unprivileged_port_start":null}"#
        );
    }
}

#[cfg(test)]
mod excluded_tests {
    use super::*;

    /// `netsh int ipv4 show excludedportrange protocol=tcp` on an English Windows 11 with
    /// Hyper-V and one administered exclusion (recorded text).
    const NETSH_TCP: &str = "\r
Protocol tcp Port Exclusion Ranges\r
\r
Start Port    End Port\r
----------    --------\r
      1080        1080\r
      5357        5357\r
     49709       49808\r
     50000       50059     *\r
\r
* - Administered port exclusions.\r
\r
";

    /// The same command when nothing is excluded.
    const NETSH_EMPTY: &str = "
Protocol udp Port Exclusion Ranges

Start Port    End Port
----------    --------

* - Administered port exclusions.

";

    #[test]
    fn netsh_ranges() {
        let ranges = ExcludedPortRange::parse_netsh(NETSH_TCP, Proto::Tcp, false);
        let got: Vec<(u16, u16, bool)> = ranges
            .iter()
            .map(|r| (r.start, r.end, r.administered))
            .collect();
        assert_eq!(
            got,
            vec![
                (1080, 1080, false),
                (5357, 5357, false),
                (49709, 49808, false),
                (50000, 50059, true)
            ]
        );
        assert!(ranges.iter().all(|r| r.proto == Proto::Tcp && !r.ipv6));
        assert!(ranges[2].contains(49709) && ranges[2].contains(49808));
        assert!(!ranges[2].contains(49809));
        assert!(ExcludedPortRange::parse_netsh(NETSH_EMPTY, Proto::Udp, true).is_empty());
        // Not data: a reversed range, a third word other than `*`, a number out of range.
        let odd = "10 5\n10 20 x\n70000 70001\n 7 9 * \n";
        let got = ExcludedPortRange::parse_netsh(odd, Proto::Tcp, true);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].start, got[0].end, got[0].administered),
            (7, 9, true)
        );
    }

    #[test]
    fn linux_settings_json_unchanged() {
        let json = serde_json::to_string(&PortSettings::default()).unwrap();
        assert_eq!(
            json,
            r#"{"ephemeral_range":null,"reserved_ports":null,"unprivileged_port_start":null}"#
        );
    }
}
