//! Who the holder of a port is beyond its process: the systemd unit and the container named by
//! its cgroup, the container a port forwarder sends the traffic to, and the details `portscope
//! who` reports for each owning process.
//!
//! Plain data: nothing here reads the system or decides anything. The parsers that fill these
//! types are in `analyze::owner`, the join of one holder's details in `analyze::investigation`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Ancestor;

/// The container runtime a cgroup path names. The JSON names are those of docs/json.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerRuntime {
    /// `docker-<id>.scope`, or `/docker/<id>` (cgroup v1).
    #[serde(rename = "docker")]
    Docker,
    /// `libpod-<id>.scope`, or `/libpod_parent/<id>`.
    #[serde(rename = "podman")]
    Podman,
    /// `cri-containerd-<id>.scope`, `nerdctl-<id>.scope`, or a bare id under `kubepods`.
    #[serde(rename = "containerd")]
    Containerd,
    /// `crio-<id>.scope`.
    #[serde(rename = "cri-o")]
    CriO,
}

impl ContainerRuntime {
    /// The name as in JSON: `docker`, `podman`, `containerd`, `cri-o`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerRuntime::Docker => "docker",
            ContainerRuntime::Podman => "podman",
            ContainerRuntime::Containerd => "containerd",
            ContainerRuntime::CriO => "cri-o",
        }
    }
}

impl fmt::Display for ContainerRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Compares with the JSON name (`runtime == "docker"`).
impl PartialEq<&str> for ContainerRuntime {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A container recognised from a cgroup path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// The runtime that started it.
    pub runtime: ContainerRuntime,
    /// Full container id as it appears in the cgroup path.
    pub id: String,
    /// Container name, when known (not read from the runtime's API: `null` today).
    pub name: Option<String>,
    /// Kubernetes pod uid, when the container belongs to a pod (`kubepods` in the path).
    pub pod_uid: Option<String>,
}

/// What a cgroup path says about a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupInfo {
    /// The path used (the unified `0::` line, else the `name=systemd` line), `None` when empty.
    pub path: Option<String>,
    /// The innermost systemd unit: `nginx.service`, `session-3.scope`, `docker-<id>.scope`.
    pub unit: Option<String>,
    /// When the unit runs under a user's service manager (`user@1000.service`), that uid.
    pub user_manager: Option<u32>,
    /// The container, when the path names one.
    pub container: Option<Container>,
}

/// The kind of a container port forwarder. The JSON names are those of docs/json.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwarderKind {
    /// Docker's `docker-proxy` (also rootless Docker's `rootlesskit-docker-proxy`).
    #[serde(rename = "docker-proxy")]
    DockerProxy,
    /// Rootless Podman's `rootlessport`.
    #[serde(rename = "rootlessport")]
    RootlessPort,
    /// `pasta` (passt), rootless Podman's network back end.
    #[serde(rename = "pasta")]
    Pasta,
}

impl ForwarderKind {
    /// The name as in JSON: `docker-proxy`, `rootlessport`, `pasta`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ForwarderKind::DockerProxy => "docker-proxy",
            ForwarderKind::RootlessPort => "rootlessport",
            ForwarderKind::Pasta => "pasta",
        }
    }
}

impl fmt::Display for ForwarderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Compares with the JSON name (`kind == "pasta"`).
impl PartialEq<&str> for ForwarderKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A process that forwards a published host port into a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarder {
    /// Which forwarder it is.
    pub kind: ForwarderKind,
    /// Where the traffic goes: the container's IP (docker-proxy) or `null` when the command line
    /// does not say (rootlessport reads its configuration from a pipe; pasta forwards into a
    /// network namespace, whose address it does not name).
    pub container_address: Option<String>,
    /// The container's port, `null` when the command line does not say.
    pub container_port: Option<u16>,
}

/// Everything known about one process that holds a socket on the port.
///
/// It repeats seven fields of [`crate::model::ProcessInfo`] rather than flattening it: the
/// process object's JSON also has `fds` (after `pid`) and `ppid` (before `start_time`), which
/// this object's JSON does not, so no shared sub-struct keeps both documents as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerDetails {
    /// Process id (the key `sockets[].processes[].pid` refers to).
    pub pid: u32,
    /// Process name.
    pub name: Option<String>,
    /// Full command line, one string per argument.
    pub cmdline: Vec<String>,
    /// Executable path.
    pub exe: Option<String>,
    /// Real uid.
    pub uid: Option<u32>,
    /// Name of that uid.
    pub user: Option<String>,
    /// Start time, seconds since the Unix epoch.
    pub start_time: Option<u64>,
    /// Seconds since the start.
    pub age_seconds: Option<u64>,
    /// Parent, grandparent, … up to pid 1.
    pub parents: Vec<Ancestor>,
    /// The cgroup path the unit and container come from.
    pub cgroup: Option<String>,
    /// Innermost systemd unit (`nginx.service`, `session-3.scope`, `docker-<id>.scope`).
    pub unit: Option<String>,
    /// When `unit` belongs to a user's service manager, that user's uid (`systemctl --user`).
    pub unit_user_manager: Option<u32>,
    /// For a pid-1 holder: the `.socket` unit whose `Listen*=` names this port.
    pub socket_unit: Option<String>,
    /// True when the holder is pid 1 (a service manager holding the port for socket activation).
    pub socket_activated: bool,
    /// The container the process runs in.
    pub container: Option<Container>,
    /// When the process is a port forwarder of a container runtime: what it forwards to.
    pub forwarder: Option<Forwarder>,
    /// True for a kernel thread.
    pub kernel_thread: bool,
}

#[cfg(test)]
impl OwnerDetails {
    /// A fixture for tests: process `pid` named `x`, nothing else known.
    pub(crate) fn test_owner(pid: u32) -> OwnerDetails {
        OwnerDetails {
            pid,
            name: Some("x".into()),
            cmdline: vec![],
            exe: None,
            uid: None,
            user: None,
            start_time: None,
            age_seconds: None,
            parents: vec![],
            cgroup: None,
            unit: None,
            unit_user_manager: None,
            socket_unit: None,
            socket_activated: false,
            container: None,
            forwarder: None,
            kernel_thread: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The enums keep the strings docs/json.md documents, both ways.
    #[test]
    fn json_names() {
        let runtimes = [
            (ContainerRuntime::Docker, "docker"),
            (ContainerRuntime::Podman, "podman"),
            (ContainerRuntime::Containerd, "containerd"),
            (ContainerRuntime::CriO, "cri-o"),
        ];
        for (runtime, name) in runtimes {
            assert_eq!(
                serde_json::to_string(&runtime).unwrap(),
                format!("\"{name}\"")
            );
            assert_eq!(
                serde_json::from_str::<ContainerRuntime>(&format!("\"{name}\"")).unwrap(),
                runtime
            );
            assert_eq!(runtime.to_string(), name);
            assert_eq!(runtime, name);
        }
        let kinds = [
            (ForwarderKind::DockerProxy, "docker-proxy"),
            (ForwarderKind::RootlessPort, "rootlessport"),
            (ForwarderKind::Pasta, "pasta"),
        ];
        for (kind, name) in kinds {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<ForwarderKind>(&format!("\"{name}\"")).unwrap(),
                kind
            );
            assert_eq!(kind.to_string(), name);
            assert_eq!(kind, name);
        }
    }
}
