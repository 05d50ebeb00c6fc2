//! Reading other network namespaces (`--netns`, `--all-netns`): finding them, each once by its
//! inode, and running work inside one.
//!
//! Finding: `--netns NAME` is `/run/netns/NAME`, `--netns PID` is `PROC_ROOT/PID/ns/net`, a
//! path is taken as it is; `--all-netns` is portscope's own namespace, every file under
//! `/run/netns` and every `PROC_ROOT/*/ns/net`, deduplicated by the namespace inode (`stat`'s
//! `st_ino` of the nsfs file). A `/run/netns` entry whose file is not an nsfs mount (a stale
//! name left after a failed `ip netns add`) has another device number and is skipped. Each
//! namespace is named after its `/run/netns` entry when it has one, and the lowest pid found
//! living there is kept, so the analysis can name the container from that pid's cgroup.
//!
//! Entering: [`in_namespace`] opens the namespace file, spawns a helper thread that calls
//! `setns(fd, CLONE_NEWNET)` and runs the work there, and joins it. `setns` changes only the
//! calling thread's network namespace, and the helper thread ends with the work, so the main
//! thread never leaves portscope's own namespace. The whole socket dump runs on the helper
//! thread, not only the creation of its netlink socket: a netlink socket stays bound to the
//! namespace it was created in, so creating it there and dumping from the main thread would
//! work too, but the sock_diag reader opens its own socket per request, and the interface
//! listing (`getifaddrs`, `if_nametoindex`) opens sockets of its own; running both on the
//! helper thread keeps every socket-opening call in the namespace with no second code path.
//!
//! It must not decide what to show, and must not change the main thread's namespace.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::collect::CollectError;
use crate::model::{NetnsSelection, NetnsTarget};

/// Where named namespaces live (`ip netns add`).
const RUN_NETNS: &str = "/run/netns";

/// portscope's own network namespace file (in its own `/proc`, whatever `--proc-root` says:
/// the namespace the main thread is in).
const OWN_NETNS: &str = "/proc/self/ns/net";

/// At most this many namespaces are read by `--all-netns`.
const MAX_NAMESPACES: usize = 4096;

/// One namespace to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The file to open for `setns`.
    pub path: PathBuf,
    /// The namespace inode.
    pub inode: u64,
    /// Its `/run/netns` name.
    pub name: Option<String>,
    /// The lowest pid living in it.
    pub pid: Option<u32>,
    /// portscope's own namespace: read without entering anything.
    pub own: bool,
}

/// (device, inode) of a namespace file.
fn ns_id(path: &Path) -> std::io::Result<(u64, u64)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

fn error(what: String, source: std::io::Error) -> CollectError {
    CollectError::Netns { what, source }
}

/// Named namespaces: inode → name (the first name in sorted order when two name one).
fn named(nsfs_dev: u64) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(RUN_NETNS) else {
        return out;
    };
    let mut names: Vec<String> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in names {
        if let Ok((dev, ino)) = ns_id(&Path::new(RUN_NETNS).join(&name)) {
            if dev == nsfs_dev {
                out.entry(ino).or_insert(name);
            }
        }
    }
    out
}

/// Every namespace a process lives in: inode → lowest pid.
fn by_process(proc_root: &Path, nsfs_dev: u64) -> BTreeMap<u64, u32> {
    let mut out = BTreeMap::new();
    let Ok(pids) = super::procfs::list_pids(proc_root) else {
        return out;
    };
    for pid in pids {
        let path = proc_root.join(pid.to_string()).join("ns/net");
        // A process that exited, or a kernel thread's link we may not read: skipped.
        if let Ok((dev, ino)) = ns_id(&path) {
            if dev == nsfs_dev {
                // Pids come sorted: the first is the lowest.
                out.entry(ino).or_insert(pid);
            }
        }
    }
    out
}

/// The namespaces `selection` names, portscope's own first when it is among them, then by
/// inode. Empty for [`NetnsSelection::Own`].
///
/// # Errors
/// [`CollectError::Netns`] when portscope's own namespace file or the one `--netns` names
/// cannot be read (no such name or pid, not a namespace file).
pub fn discover(proc_root: &Path, selection: &NetnsSelection) -> Result<Vec<Found>, CollectError> {
    let (nsfs_dev, own_ino) =
        ns_id(Path::new(OWN_NETNS)).map_err(|e| error(OWN_NETNS.to_owned(), e))?;
    let names = named(nsfs_dev);
    let pids = by_process(proc_root, nsfs_dev);
    let own = || Found {
        path: PathBuf::from(OWN_NETNS),
        inode: own_ino,
        name: names.get(&own_ino).cloned(),
        pid: pids.get(&own_ino).copied(),
        own: true,
    };
    let mut out = Vec::new();
    match selection {
        NetnsSelection::Own => {}
        NetnsSelection::One { target, with_own } => {
            let path = match target {
                NetnsTarget::Name(name) => Path::new(RUN_NETNS).join(name),
                NetnsTarget::Pid(pid) => proc_root.join(pid.to_string()).join("ns/net"),
                NetnsTarget::Path(path) => path.clone(),
            };
            let (dev, inode) = ns_id(&path).map_err(|e| error(target.to_string(), e))?;
            if dev != nsfs_dev {
                return Err(error(
                    target.to_string(),
                    std::io::Error::other("not a network namespace file"),
                ));
            }
            if *with_own && inode != own_ino {
                out.push(own());
            }
            out.push(Found {
                path,
                inode,
                name: match target {
                    NetnsTarget::Name(name) => Some(name.clone()),
                    _ => names.get(&inode).cloned(),
                },
                pid: pids.get(&inode).copied(),
                own: inode == own_ino,
            });
        }
        NetnsSelection::All => {
            out.push(own());
            let mut others: HashMap<u64, Found> = HashMap::new();
            for (&inode, name) in &names {
                others.insert(
                    inode,
                    Found {
                        path: Path::new(RUN_NETNS).join(name),
                        inode,
                        name: Some(name.clone()),
                        pid: pids.get(&inode).copied(),
                        own: false,
                    },
                );
            }
            for (&inode, &pid) in &pids {
                others.entry(inode).or_insert_with(|| Found {
                    path: proc_root.join(pid.to_string()).join("ns/net"),
                    inode,
                    name: None,
                    pid: Some(pid),
                    own: false,
                });
            }
            others.remove(&own_ino);
            let mut others: Vec<Found> = others.into_values().collect();
            others.sort_by_key(|f| f.inode);
            others.truncate(MAX_NAMESPACES);
            out.extend(others);
        }
    }
    Ok(out)
}

/// Run `work` inside the network namespace of `found`: on a helper thread that enters it
/// (`setns(CLONE_NEWNET)`), or directly for portscope's own.
///
/// # Errors
/// When the namespace file cannot be opened (the namespace is gone) or `setns` is refused
/// (EPERM without CAP_SYS_ADMIN), or the helper thread panicked.
pub fn in_namespace<T: Send>(found: &Found, work: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    if found.own {
        return Ok(work());
    }
    let file = File::open(&found.path)?;
    let fd = file.as_raw_fd();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: `fd` is an open namespace file (`file` outlives the scope); setns
                // changes the network namespace of this helper thread only, which ends here.
                let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(work())
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("namespace helper thread panicked")))
    })
}
