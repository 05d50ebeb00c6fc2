//! systemd unit files for `check`: every `*.service` and `*.socket` file in the usual unit
//! directories, read bounded (at most [`MAX_FILES`] files of [`MAX_BYTES`] each), and whether a
//! unit has processes now (its cgroup, in whichever `*.slice` of the cgroup v2 tree, is
//! populated).
//! Matching a unit to a port is `analyze::check`.

use std::path::Path;

use crate::collect::files;
use crate::model::UnitFile;

/// Directories searched, first one of a name winning (as systemd overrides).
const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];
/// At most this many files are read.
const MAX_FILES: usize = 4096;
/// Longest unit file read.
const MAX_BYTES: u64 = 64 * 1024;

/// Every service and socket unit file.
pub(crate) fn unit_files() -> Vec<UnitFile> {
    let mut out: Vec<UnitFile> = Vec::new();
    for dir in UNIT_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if out.len() >= MAX_FILES {
                return out;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind_ok = name.ends_with(".service") || name.ends_with(".socket");
            if !kind_ok || name.contains('@') || out.iter().any(|u| u.name == name) {
                continue;
            }
            let path = entry.path();
            if let Ok(text) = files::read_regular_text(&path, MAX_BYTES) {
                out.push(UnitFile {
                    name,
                    path: path.to_string_lossy().into_owned(),
                    text,
                });
            }
        }
    }
    out
}

/// The cgroup v2 root.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// How deep slices nest below the root (`a.slice/a-b.slice/a-b-c.slice`).
const SLICE_DEPTH: usize = 3;

/// Whether `unit` has processes, in whatever slice it runs (`system.slice`, `user.slice`,
/// `machine.slice`, a `Slice=` of its own); `None` when that cannot be told (no cgroup v2).
pub(crate) fn unit_running(unit: &str) -> Option<bool> {
    unit_running_in(Path::new(CGROUP_ROOT), unit)
}

/// [`unit_running`] under `root`. A unit's cgroup is `SLICE/UNIT` for some slice directory
/// (`*.slice`, nested up to [`SLICE_DEPTH`]); it is running when that cgroup is populated
/// (`cgroup.events`, which counts sub-cgroups too) or, failing that, has processes. systemd
/// removes the cgroup of a stopped unit, so a unit found in no slice of a cgroup v2 tree is
/// not running.
fn unit_running_in(root: &Path, unit: &str) -> Option<bool> {
    if unit.is_empty() || unit.contains('/') || !root.join("cgroup.controllers").exists() {
        return None;
    }
    let mut slices = vec![root.to_path_buf()];
    for _ in 0..SLICE_DEPTH {
        let mut next = Vec::new();
        for dir in &slices {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if name.to_string_lossy().ends_with(".slice") && entry.path().is_dir() {
                    next.push(entry.path());
                }
            }
        }
        for slice in &next {
            let cgroup = slice.join(unit);
            if cgroup.is_dir() {
                return populated(&cgroup);
            }
        }
        slices = next;
    }
    Some(false)
}

/// Whether a cgroup has processes in it or below it; `None` when unreadable.
fn populated(cgroup: &Path) -> Option<bool> {
    if let Ok(events) = std::fs::read_to_string(cgroup.join("cgroup.events")) {
        if let Some(value) = events.lines().find_map(|l| l.strip_prefix("populated ")) {
            return Some(value.trim() == "1");
        }
    }
    let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).ok()?;
    Some(!procs.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before, only `system.slice/UNIT` was looked at: a unit in `user.slice` or a slice of
    /// its own was called not running.
    #[test]
    fn units_are_found_in_any_slice() {
        let root = std::env::temp_dir().join(format!("portscope-cg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let unit = |rel: &str, populated: bool| {
            let dir = root.join(rel);
            std::fs::create_dir_all(&dir).unwrap();
            let flag = u8::from(populated);
            std::fs::write(
                dir.join("cgroup.events"),
                format!("populated {flag}\nfrozen 0\n"),
            )
            .unwrap();
        };
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("cgroup.controllers"), "cpu memory\n").unwrap();
        unit("system.slice/sshd.service", true);
        unit("system.slice/idle.service", false);
        unit("user.slice/user-1000.slice/user@1000.service", true);
        unit("apps.slice/apps-web.slice/web.service", true);
        // No cgroup.events: cgroup.procs decides.
        std::fs::create_dir_all(root.join("machine.slice/old.service")).unwrap();
        std::fs::write(root.join("machine.slice/old.service/cgroup.procs"), "42\n").unwrap();
        let cases = [
            ("sshd.service", Some(true)),
            ("idle.service", Some(false)),
            ("user@1000.service", Some(true)),
            ("web.service", Some(true)),
            ("old.service", Some(true)),
            ("gone.service", Some(false)),
            ("../x", None),
        ];
        for (name, want) in cases {
            assert_eq!(unit_running_in(&root, name), want, "{name}");
        }
        // Not a cgroup v2 tree: unknown.
        assert_eq!(
            unit_running_in(&root.join("system.slice"), "sshd.service"),
            None
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
