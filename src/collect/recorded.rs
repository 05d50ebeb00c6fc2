//! A recorded platform for tests: it serves a [`Snapshot`] and host facts from plain data, so a
//! command's decisions and output can be checked without a kernel (bandwhich's injected
//! `OsInputOutput`). It applies the query as the kernel would ([`SocketQuery::matches`]) and
//! the caller's pre-filter, and records which methods were called and which signals were sent.
//!
//! It must never read the system or act on it: signals are only recorded, nothing is pinned.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::collect::{CollectError, Pinned, Platform, ProcView};
use crate::model::{
    InterfaceAddr, OwnerRaw, OwnerScan, Phases, PidNamespace, PortSettings, PortSpec, ProbeResult,
    ProcIdentity, ProcessInfo, Proto, RawSocket, Signal, SignalError, Snapshot, SocketQuery,
};

/// Recorded data served as a platform. Fields are public: build one with struct update syntax
/// over [`Recorded::new`].
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// Sockets, owners, processes, user names (`users`), interfaces, privileges and PID
    /// namespace, served as the socket table and its lookups.
    pub snapshot: Snapshot,
    /// The host name.
    pub hostname: Option<String>,
    /// The services text (`/etc/services`).
    pub services: Option<String>,
    /// The port sysctls.
    pub port_settings: PortSettings,
    /// Interfaces with `route_localnet` set.
    pub route_localnet: Vec<String>,
    /// systemd socket units.
    pub socket_units: Vec<(String, String)>,
    /// Owner facts by pid.
    pub owners_raw: BTreeMap<u32, OwnerRaw>,
    /// Bind probe results, served for the protocols asked.
    pub probe: Vec<ProbeResult>,
    /// Identities by pid (both views).
    pub identities: BTreeMap<u32, ProcIdentity>,
    /// Make the interface listing fail.
    pub interfaces_error: bool,
    /// The names of the methods called so far, in order (shared: clone the `Arc` to read it
    /// after the platform moved into a collector).
    pub calls: Arc<Mutex<Vec<&'static str>>>,
    /// The (pid, signal) pairs "sent" so far (shared, as `calls`).
    pub signals: Arc<Mutex<Vec<(u32, Signal)>>>,
}

impl Recorded {
    /// Serve `snapshot`; no host facts.
    pub(crate) fn new(snapshot: Snapshot) -> Self {
        Recorded {
            snapshot,
            ..Recorded::default()
        }
    }

    fn called(&self, what: &'static str) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(what);
        }
    }
}

impl Platform for Recorded {
    fn socket_table(
        &self,
        query: &SocketQuery,
        keep: &dyn Fn(&RawSocket) -> bool,
        with_owners: bool,
        phases: &mut Phases,
    ) -> Result<(Vec<RawSocket>, OwnerScan), CollectError> {
        self.called("socket_table");
        phases.time("socket table (recorded)", || {
            let table: Vec<RawSocket> = self
                .snapshot
                .sockets
                .iter()
                .filter(|s| query.matches(s) && keep(s))
                .cloned()
                .collect();
            let scan = if with_owners {
                let wanted: BTreeSet<u64> = table.iter().filter_map(|s| s.inode).collect();
                let by_inode: HashMap<_, _> = self
                    .snapshot
                    .owners
                    .by_inode
                    .iter()
                    .filter(|(inode, _)| wanted.contains(inode))
                    .map(|(inode, holders)| (*inode, holders.clone()))
                    .collect();
                OwnerScan {
                    by_inode,
                    performed: true,
                    ..self.snapshot.owners.clone()
                }
            } else {
                OwnerScan::default()
            };
            Ok((table, scan))
        })
    }

    fn processes(&self, pids: &[u32]) -> BTreeMap<u32, ProcessInfo> {
        self.called("processes");
        pids.iter()
            .filter_map(|pid| self.snapshot.processes.get_key_value(pid))
            .map(|(pid, info)| (*pid, info.clone()))
            .collect()
    }

    fn interfaces(&self) -> Result<Vec<InterfaceAddr>, CollectError> {
        self.called("interfaces");
        if self.interfaces_error {
            return Err(CollectError::Interfaces(io::Error::other(
                "recorded failure",
            )));
        }
        Ok(self.snapshot.interfaces.clone())
    }

    fn privileged(&self) -> bool {
        self.snapshot.privileged
    }

    fn pid_namespace(&self) -> Option<PidNamespace> {
        self.snapshot.pid_namespace.clone()
    }

    fn hostname(&self) -> Option<String> {
        self.called("hostname");
        self.hostname.clone()
    }

    fn user_name(&self, uid: u32) -> Option<String> {
        self.called("user_name");
        self.snapshot.users.get(&uid).cloned().flatten()
    }

    fn uid_of(&self, name: &str) -> Option<u32> {
        self.snapshot
            .users
            .iter()
            .find(|(_, n)| n.as_deref() == Some(name))
            .map(|(uid, _)| *uid)
    }

    fn services_text(&self) -> Option<String> {
        self.called("services_text");
        self.services.clone()
    }

    fn port_settings(&self) -> PortSettings {
        self.port_settings.clone()
    }

    fn route_localnet(&self) -> Vec<String> {
        self.route_localnet.clone()
    }

    fn socket_units(&self) -> Vec<(String, String)> {
        self.socket_units.clone()
    }

    fn owner_raw(&self, pid: u32) -> OwnerRaw {
        self.owners_raw.get(&pid).cloned().unwrap_or_default()
    }

    fn cgroup(&self, pid: u32) -> Option<String> {
        self.owners_raw.get(&pid).and_then(|o| o.cgroup.clone())
    }

    fn probe(&self, _port: u16, protos: &[Proto]) -> Vec<ProbeResult> {
        self.called("probe");
        self.probe
            .iter()
            .filter(|r| protos.contains(&r.proto))
            .cloned()
            .collect()
    }

    fn identity(&self, _view: ProcView, pid: u32) -> ProcIdentity {
        self.identities.get(&pid).copied().unwrap_or_default()
    }

    fn own_namespace_processes_in(&self, _ns: u64) -> Option<Vec<(u32, ProcIdentity)>> {
        None
    }

    fn holds_any_socket(
        &self,
        _view: ProcView,
        pid: u32,
        _port: PortSpec,
        inodes: &BTreeSet<u64>,
    ) -> io::Result<bool> {
        Ok(self
            .snapshot
            .owners
            .by_inode
            .iter()
            .any(|(inode, holders)| inodes.contains(inode) && holders.iter().any(|h| h.pid == pid)))
    }

    fn process_exists(&self, _view: ProcView, pid: u32) -> bool {
        self.snapshot.processes.contains_key(&pid)
    }

    fn pin(&self, _pid: u32) -> Result<Option<Pinned>, SignalError> {
        Ok(None)
    }

    fn signal(&self, pid: u32, signal: Signal) -> Result<(), SignalError> {
        self.called("signal");
        if let Ok(mut sent) = self.signals.lock() {
            sent.push((pid, signal));
        }
        Ok(())
    }

    fn wait_exit(&self, pinned: &[Pinned], _timeout: Duration) -> io::Result<Vec<bool>> {
        Ok(vec![false; pinned.len()])
    }
}
