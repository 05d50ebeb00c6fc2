//! systemd unit files for `check`: every `*.service` and `*.socket` file in the usual unit
//! directories, read bounded (at most [`MAX_FILES`] files of [`MAX_BYTES`] each), and whether a
//! unit has processes now (its cgroup under `/sys/fs/cgroup/system.slice` is not empty).
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

/// Whether `unit` has processes (cgroup v2 `system.slice/UNIT/cgroup.procs` not empty);
/// `None` when its cgroup cannot be read (no cgroup v2, or the unit never started: then
/// systemd removed the directory, so a missing directory on a cgroup v2 host means stopped).
pub(crate) fn unit_running(unit: &str) -> Option<bool> {
    let slice = Path::new("/sys/fs/cgroup/system.slice");
    if !slice.is_dir() {
        return None;
    }
    let procs = slice.join(unit).join("cgroup.procs");
    if !procs.exists() {
        return Some(false);
    }
    let text = std::fs::read_to_string(procs).ok()?;
    Some(!text.trim().is_empty())
}
