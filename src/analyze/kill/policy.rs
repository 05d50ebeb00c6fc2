//! Whom `portscope kill` must never signal (the system's protected pids: 0 and 1 on Unix, 0 and
//! 4 — System — on Windows; itself; a kernel thread), whom only
//! with `--force` (a container's port forwarder, a process in a container, one of a `.service`
//! unit systemd would restart), and, for a holder seen through another PID namespace, that it
//! is signalled under its pid in portscope's own namespace or not at all.
//!
//! Pure: it decides from data and never sends a signal, reads the system or words a refusal
//! (`render::kill` does).

use crate::analyze::kill::identity::{NoTranslation, Translation};
use crate::analyze::owner::restarting_unit;
use crate::model::{ContainerRuntime, ForwarderKind, Os, OwnerDetails};

/// Why a holder is not signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// pid 0 is not a process (the kernel's idle task / swapper).
    PidZero,
    /// pid 1 is the service manager: signalling it stops the machine or is ignored.
    Init,
    /// Windows' pid 4, the System process (the kernel; http.sys serves ports under it).
    System,
    /// portscope's own process.
    OwnPid,
    /// A kernel thread cannot be signalled meaningfully.
    KernelThread,
    /// A container runtime's port forwarder; the container should be stopped instead (`--force`
    /// overrides).
    Forwarder(ForwarderKind),
    /// A process inside a container; the runtime may restart it (`--force` overrides).
    Container(ContainerRuntime),
    /// A process of a `.service` unit systemd may restart (`--force` overrides).
    ServiceUnit(String),
    /// The holder lives in another PID namespace (`--proc-root`) and its pid in portscope's own
    /// cannot be found: signalling the same number here would hit another process.
    OtherNamespace(NoTranslation),
}

impl Refusal {
    /// True when `--force` lets the kill go ahead anyway.
    #[must_use]
    #[cfg(test)]
    pub fn overridable(&self) -> bool {
        matches!(
            self,
            Refusal::Forwarder(_) | Refusal::Container(_) | Refusal::ServiceUnit(_)
        )
    }
}

/// The pids of `os` that are never a process one may end: 0 everywhere (Linux's idle task,
/// Windows' System Idle Process, which also names "no process" in Windows' socket tables); 1
/// on Unix (init, launchd); 4 on Windows (System: the kernel, with http.sys and SMB in it).
#[must_use]
pub fn protected(pid: u32, os: Os) -> Option<Refusal> {
    match (os, pid) {
        (_, 0) => Some(Refusal::PidZero),
        (Os::Linux | Os::MacOs, 1) => Some(Refusal::Init),
        (Os::Windows, 4) => Some(Refusal::System),
        _ => None,
    }
}

/// Decide whether a holder may be signalled on `os`. Hard refusals (the protected pids,
/// portscope itself, a kernel thread) hold even with `--force`; the others only without it.
#[must_use]
pub fn refusal(
    pid: u32,
    os: Os,
    self_pid: u32,
    is_kernel_thread: bool,
    owner: Option<&OwnerDetails>,
    force: bool,
) -> Option<Refusal> {
    let hard = match pid {
        p if protected(p, os).is_some() => protected(p, os),
        p if p == self_pid => Some(Refusal::OwnPid),
        _ if is_kernel_thread || owner.is_some_and(|o| o.kernel_thread) => {
            Some(Refusal::KernelThread)
        }
        _ => None,
    };
    if hard.is_some() {
        return hard;
    }
    let soft = owner.and_then(|o| {
        if let Some(f) = &o.forwarder {
            Some(Refusal::Forwarder(f.kind))
        } else if let Some(c) = &o.container {
            Some(Refusal::Container(c.runtime))
        } else {
            restarting_unit(o).map(|u| Refusal::ServiceUnit(u.to_string()))
        }
    });
    soft.filter(|_| !force)
}

/// Decide whether a holder may be signalled and under which pid of portscope's namespace.
/// `pid` is the holder's pid as read through the proc root: pid 0 and 1 there are refused (1
/// is its namespace's init, whose end takes the namespace down). The translated pid then goes
/// through [`refusal`], so pid 1 and portscope itself are checked in portscope's namespace.
///
/// # Errors
/// The refusal.
pub fn decide(
    pid: u32,
    os: Os,
    translation: Translation,
    self_pid: u32,
    is_kernel_thread: bool,
    owner: Option<&OwnerDetails>,
    force: bool,
) -> Result<u32, Refusal> {
    if let Some(r) = protected(pid, os) {
        return Err(r);
    }
    let here = match translation {
        Translation::Same(p) | Translation::Translated(p) => p,
        Translation::Impossible(why) => return Err(Refusal::OtherNamespace(why)),
    };
    match refusal(here, os, self_pid, is_kernel_thread, owner, force) {
        Some(r) => Err(r),
        None => Ok(here),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Container, Forwarder};

    fn owner(pid: u32) -> OwnerDetails {
        OwnerDetails::test_owner(pid)
    }

    #[test]
    fn refusals() {
        let me = 500;
        let plain = owner(42);
        let mut service = owner(43);
        service.unit = Some("nginx.service".into());
        let mut scope = owner(44);
        scope.unit = Some("session-2.scope".into());
        let mut proxy = owner(45);
        proxy.forwarder = Some(Forwarder {
            kind: ForwarderKind::DockerProxy,
            container_address: None,
            container_port: None,
        });
        let mut boxed = owner(46);
        boxed.container = Some(Container {
            runtime: ContainerRuntime::Docker,
            id: "a".repeat(64),
            name: None,
            pod_uid: None,
        });
        let mut kthread = owner(47);
        kthread.kernel_thread = true;
        type Case<'a> = (u32, bool, Option<&'a OwnerDetails>, bool, Option<Refusal>);
        let cases: Vec<Case> = vec![
            (42, false, Some(&plain), false, None),
            (42, false, None, false, None),
            (0, false, None, true, Some(Refusal::PidZero)),
            (1, false, None, true, Some(Refusal::Init)),
            (1, false, Some(&plain), false, Some(Refusal::Init)),
            (me, false, None, true, Some(Refusal::OwnPid)),
            (2, true, None, true, Some(Refusal::KernelThread)),
            (47, false, Some(&kthread), true, Some(Refusal::KernelThread)),
            (
                43,
                false,
                Some(&service),
                false,
                Some(Refusal::ServiceUnit("nginx.service".into())),
            ),
            (43, false, Some(&service), true, None),
            (44, false, Some(&scope), false, None),
            (
                45,
                false,
                Some(&proxy),
                false,
                Some(Refusal::Forwarder(ForwarderKind::DockerProxy)),
            ),
            (45, false, Some(&proxy), true, None),
            (
                46,
                false,
                Some(&boxed),
                false,
                Some(Refusal::Container(ContainerRuntime::Docker)),
            ),
            (46, false, Some(&boxed), true, None),
        ];
        for (pid, kt, o, force, want) in cases {
            assert_eq!(
                refusal(pid, Os::Linux, me, kt, o, force),
                want,
                "pid {pid} force {force}"
            );
        }
        assert!(!Refusal::Init.overridable());
        assert!(Refusal::ServiceUnit("a.service".into()).overridable());
        assert!(Refusal::Forwarder(ForwarderKind::Pasta).overridable());
    }

    #[test]
    fn decisions_check_each_namespace() {
        let me = 500;
        let plain = owner(3);
        let outside = Translation::Impossible(NoTranslation::Outside { ancestor: false });
        type Case<'a> = (
            u32,
            Translation,
            Option<&'a OwnerDetails>,
            Result<u32, Refusal>,
        );
        let cases: Vec<Case> = vec![
            (42, Translation::Same(42), Some(&plain), Ok(42)),
            (3, Translation::Translated(16_262), Some(&plain), Ok(16_262)),
            // No pid here: refused, even with --force (below), never signalled as "3".
            (
                3,
                outside,
                Some(&plain),
                Err(Refusal::OtherNamespace(NoTranslation::Outside {
                    ancestor: false,
                })),
            ),
            // pid 1 of the container is its init: its end takes the namespace down.
            (1, Translation::Translated(16_000), None, Err(Refusal::Init)),
            (0, Translation::Same(0), None, Err(Refusal::PidZero)),
            // A holder whose pid here is portscope itself or init here.
            (7, Translation::Translated(me), None, Err(Refusal::OwnPid)),
            (7, Translation::Translated(1), None, Err(Refusal::Init)),
            // Pid 500 in the container is not portscope (pid 500 here).
            (me, Translation::Translated(16_001), None, Ok(16_001)),
        ];
        for (pid, translation, o, want) in cases {
            assert_eq!(
                decide(pid, Os::Linux, translation, me, false, o, false),
                want,
                "pid {pid} {translation:?}"
            );
        }
        let refused = decide(3, Os::Linux, outside, me, false, Some(&plain), true).unwrap_err();
        assert!(!refused.overridable());
    }

    #[test]
    fn protected_pids_of_every_platform() {
        use Os::{Linux, MacOs, Windows};
        let cases = [
            (Linux, 0, Some(Refusal::PidZero)),
            (Linux, 1, Some(Refusal::Init)),
            (Linux, 4, None),
            (MacOs, 0, Some(Refusal::PidZero)),
            (MacOs, 1, Some(Refusal::Init)),
            (MacOs, 4, None),
            (Windows, 0, Some(Refusal::PidZero)),
            (Windows, 1, None),
            (Windows, 4, Some(Refusal::System)),
            (Windows, 8, None),
        ];
        let me = 500;
        for (os, pid, want) in cases {
            assert_eq!(protected(pid, os), want, "{os:?} pid {pid}");
            // Hard: --force does not override, in refusal and in decide.
            assert_eq!(
                refusal(pid, os, me, false, None, true),
                want,
                "{os:?} pid {pid}"
            );
            let decided = decide(pid, os, Translation::Same(pid), me, false, None, true);
            match &want {
                Some(r) => assert_eq!(decided.as_ref(), Err(r), "{os:?} pid {pid}"),
                None => assert_eq!(decided, Ok(pid), "{os:?} pid {pid}"),
            }
        }
        assert!(!Refusal::System.overridable());
        // portscope itself is refused on every platform.
        for os in [Linux, MacOs, Windows] {
            assert_eq!(
                refusal(me, os, me, false, None, true),
                Some(Refusal::OwnPid)
            );
        }
    }
}
