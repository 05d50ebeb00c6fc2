//! Network namespaces: which ones a run reads ([`NetnsSelection`], from `--netns` and
//! `--all-netns`), what the collector learns about each ([`NetnsFacts`]: its inode, name, a
//! process living there with that process's cgroup text, and its interfaces), and the namespace
//! a row carries ([`NetnsInfo`], JSON `netns`).
//!
//! Plain data: nothing here reads the system (the collector finds and enters namespaces, the
//! analysis names their containers from the cgroup text).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{AddrClass, Container, DecidedBy, ForwarderKind, InterfaceAddr};

/// One network namespace as `--netns` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetnsTarget {
    /// A named namespace: `/run/netns/NAME` (what `ip netns add NAME` creates).
    Name(String),
    /// The namespace of a process: `/proc/PID/ns/net`.
    Pid(u32),
    /// A namespace file anywhere (a bind mount, `/proc/PID/task/TID/ns/net`).
    Path(PathBuf),
}

impl NetnsTarget {
    /// Read `--netns`'s value: digits are a pid, text with a `/` a path, anything else the name
    /// of a namespace under `/run/netns`.
    ///
    /// # Errors
    /// An empty value, a name `ip netns` could not have made (`.`, `..`), or pid 0.
    pub fn parse(text: &str) -> Result<NetnsTarget, String> {
        if text.is_empty() {
            return Err("empty namespace: give a name under /run/netns, a pid or a path".into());
        }
        if text.contains('/') {
            return Ok(NetnsTarget::Path(PathBuf::from(text)));
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u32>() {
                Ok(0) | Err(_) => Err(format!("'{text}' is not a pid")),
                Ok(pid) => Ok(NetnsTarget::Pid(pid)),
            };
        }
        if text == "." || text == ".." {
            return Err(format!("'{text}' is not a namespace name"));
        }
        Ok(NetnsTarget::Name(text.to_owned()))
    }
}

impl fmt::Display for NetnsTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetnsTarget::Name(name) => write!(f, "/run/netns/{name}"),
            NetnsTarget::Pid(pid) => write!(f, "/proc/{pid}/ns/net"),
            NetnsTarget::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Which network namespaces a run reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetnsSelection {
    /// portscope's own, as before: rows carry no namespace (`netns` is `null`).
    #[default]
    Own,
    /// One other namespace (`--netns`); with `with_own`, portscope's own too, for the audit to
    /// find the forwarders that publish the namespace's ports.
    One {
        /// The namespace asked for.
        target: NetnsTarget,
        /// Read portscope's own namespace as well.
        with_own: bool,
    },
    /// Every namespace of the host (`--all-netns`), each once.
    All,
}

impl NetnsSelection {
    /// True when rows carry their namespace (anything but [`NetnsSelection::Own`]).
    #[must_use]
    pub fn is_other(&self) -> bool {
        !matches!(self, NetnsSelection::Own)
    }
}

/// What the collector learned about one namespace it read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetnsFacts {
    /// The namespace's inode (`net:[N]`), which identifies it host-wide.
    pub inode: u64,
    /// Its name under `/run/netns`, when it has one.
    pub name: Option<String>,
    /// A process living in it (the lowest pid found), `None` when none does (a named namespace
    /// nothing runs in).
    pub pid: Option<u32>,
    /// The cgroup text of `pid`, to tell the container or pod that owns the namespace.
    pub cgroup: Option<String>,
    /// True for portscope's own namespace (the host's, unless portscope runs in a container).
    pub own: bool,
    /// Every address on every interface inside the namespace, as
    /// [`crate::model::Snapshot::interfaces`] has them for the own namespace.
    pub interfaces: Vec<InterfaceAddr>,
}

/// The namespace of a row: JSON `netns`, `null` when only portscope's own namespace was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsInfo {
    /// The namespace's inode (`net:[N]`).
    pub inode: u64,
    /// Its name under `/run/netns`, `None` when it has none.
    pub name: Option<String>,
    /// A process living in it, `None` when none does.
    pub pid: Option<u32>,
    /// The container or pod that owns it, from `pid`'s cgroup, `None` when that cannot be told.
    pub container: Option<Container>,
    /// True for portscope's own namespace (the host's).
    pub host: bool,
}

impl fmt::Display for NetnsInfo {
    /// The NETNS cell: `host`, the name, the container (`docker:0123456789ab`), or `net:[N]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host {
            return f.write_str("host");
        }
        if let Some(name) = &self.name {
            return f.write_str(name);
        }
        if let Some(c) = &self.container {
            let id: String = c.id.chars().take(12).collect();
            return match &c.name {
                Some(name) => write!(f, "{}:{name}", c.runtime),
                None => write!(f, "{}:{id}", c.runtime),
            };
        }
        write!(f, "net:[{}]", self.inode)
    }
}

/// What publishes a socket of another namespace on the host: a forwarder process of the host
/// namespace, or a DNAT rule of its firewall. The JSON names are those of docs/json.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublisherKind {
    /// Docker's `docker-proxy` (also rootless Docker's `rootlesskit-docker-proxy`).
    #[serde(rename = "docker-proxy")]
    DockerProxy,
    /// Rootless Podman's `rootlessport`.
    #[serde(rename = "rootlessport")]
    RootlessPort,
    /// `pasta` (passt).
    #[serde(rename = "pasta")]
    Pasta,
    /// A `dnat to` (nft) or `-j DNAT --to-destination` (iptables) rule of the host namespace.
    #[serde(rename = "dnat")]
    Dnat,
}

impl PublisherKind {
    /// The name as in JSON: `docker-proxy`, `rootlessport`, `pasta`, `dnat`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PublisherKind::DockerProxy => "docker-proxy",
            PublisherKind::RootlessPort => "rootlessport",
            PublisherKind::Pasta => "pasta",
            PublisherKind::Dnat => "dnat",
        }
    }
}

impl From<ForwarderKind> for PublisherKind {
    fn from(kind: ForwarderKind) -> Self {
        match kind {
            ForwarderKind::DockerProxy => PublisherKind::DockerProxy,
            ForwarderKind::RootlessPort => PublisherKind::RootlessPort,
            ForwarderKind::Pasta => PublisherKind::Pasta,
        }
    }
}

impl fmt::Display for PublisherKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What publishes a socket of another namespace on the host: a forwarder (`docker-proxy`,
/// `pasta`, `rootlessport`) listening in portscope's own namespace whose target is the namespace
/// socket, or a DNAT rule of portscope's own namespace whose destination it is. JSON
/// `published[]` of an audit finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// Which forwarder, or `dnat`.
    pub forwarder: PublisherKind,
    /// The forwarder's pid; `None` for a DNAT rule.
    pub pid: Option<u32>,
    /// The host address it listens on (a DNAT rule: the one address it applies on, or the
    /// wildcard of that family when it applies on several).
    pub address: IpAddr,
    /// The host port it listens on (a DNAT rule: the outside port it matches).
    pub port: u16,
    /// The exposure of that host socket (or outside port): how far the namespace socket reaches
    /// through it.
    pub exposure: Option<AddrClass>,
    /// The host address that makes it so.
    pub exposure_address: Option<IpAddr>,
    /// The interface carrying `exposure_address`.
    pub exposure_interface: Option<String>,
    /// For a DNAT rule: the rule (as a reachability's `decided_by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_rule: Option<DecidedBy>,
    /// For a DNAT rule: its name in words (`rule handle 4 of chain prerouting in table ip nat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_rule_name: Option<String>,
    /// True when the target port is not known but taken to be the host port (rootlessport,
    /// whose mapping is not on its command line); absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub port_assumed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let cases: [(&str, Result<NetnsTarget, ()>); 7] = [
            ("blue", Ok(NetnsTarget::Name("blue".into()))),
            ("1234", Ok(NetnsTarget::Pid(1234))),
            ("/run/netns/x", Ok(NetnsTarget::Path("/run/netns/x".into()))),
            ("./ns", Ok(NetnsTarget::Path("./ns".into()))),
            ("0", Err(())),
            ("", Err(())),
            ("..", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(NetnsTarget::parse(text).map_err(|_| ()), want, "{text:?}");
        }
        assert_eq!(NetnsTarget::Pid(7).to_string(), "/proc/7/ns/net");
    }

    #[test]
    fn labels() {
        let base = NetnsInfo {
            inode: 4026532000,
            name: None,
            pid: None,
            container: None,
            host: false,
        };
        assert_eq!(base.to_string(), "net:[4026532000]");
        let named = NetnsInfo {
            name: Some("blue".into()),
            ..base.clone()
        };
        assert_eq!(named.to_string(), "blue");
        let host = NetnsInfo {
            host: true,
            ..named
        };
        assert_eq!(host.to_string(), "host");
    }
}
