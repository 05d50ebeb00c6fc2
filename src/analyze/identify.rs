//! Which service a listener is, from its owning processes: the owner table
//! (`src/analyze/identify.toml`, compiled in) and the pure matcher over executable names and
//! command lines; and how the owner's name and the port's name combine into the `service` and
//! its `service_source`.
//!
//! Pure: it must not read `/proc` (the processes come from the snapshot), connect anywhere (the
//! handshake is `analyze/handshake.rs` and `collect/handshake.rs`) or print.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::model::{ProcessInfo, Proto, ServiceSource};

/// The text of the built-in owner table.
const BUILTIN_TEXT: &str = include_str!("identify.toml");

/// Programs that run another program named by their first argument (`python3 /usr/bin/flask`).
const INTERPRETERS: [&str; 7] = ["python", "node", "ruby", "perl", "java", "sh", "bash"];

/// One entry of the owner table (see the comments at the top of `identify.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRule {
    /// The service the entry names.
    pub service: String,
    /// Program file names, without version suffixes.
    pub programs: Vec<String>,
    /// Alternatives of argument runs; empty: any command line.
    #[serde(default)]
    pub args: Vec<Vec<String>>,
    /// Protocols the entry applies to.
    #[serde(default = "tcp_only")]
    pub protos: Vec<Proto>,
    /// Port names this owner also serves, kept where the port has one.
    #[serde(default)]
    pub port_names: Vec<String>,
    /// The protocol a handshake names, when not `service`.
    #[serde(default)]
    pub speaks: Option<String>,
    /// Names the service only on its own ports.
    #[serde(default)]
    pub own_ports_only: bool,
    /// Source ids.
    pub sources: Vec<String>,
}

fn tcp_only() -> Vec<Proto> {
    vec![Proto::Tcp]
}

impl OwnerRule {
    /// The protocol a handshake with this owner names: `speaks`, else the service.
    #[must_use]
    pub fn speaks(&self) -> &str {
        self.speaks.as_deref().unwrap_or(&self.service)
    }

    /// True when a process going by `names` ([`program_names`]) with `cmdline` is this entry's
    /// program with its arguments.
    fn matches(&self, names: &[&str], cmdline: &[String]) -> bool {
        if !names.iter().any(|n| self.programs.iter().any(|p| p == n)) {
            return false;
        }
        self.args.is_empty() || self.args.iter().any(|run| has_run(cmdline, run))
    }
}

/// A cited source: a title and where to read it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerSource {
    /// What the source is.
    pub title: String,
    /// Where to read it.
    pub url: String,
    /// Further addresses.
    #[serde(default)]
    pub also: Vec<String>,
}

/// The owner table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerTable {
    /// The entries, in file order (the first match wins).
    #[serde(rename = "owner")]
    pub owners: Vec<OwnerRule>,
    /// Cited sources by id.
    pub sources: BTreeMap<String, OwnerSource>,
}

static BUILTIN: OnceLock<Result<OwnerTable, String>> = OnceLock::new();

/// The empty table [`OwnerTable::builtin`] falls back to if the compiled-in one were invalid.
static EMPTY: OwnerTable = OwnerTable {
    owners: Vec::new(),
    sources: BTreeMap::new(),
};

impl OwnerTable {
    /// The owner table compiled into portscope, parsed once; empty should it not load (a unit
    /// test guarantees it does).
    #[must_use]
    pub fn builtin() -> &'static OwnerTable {
        BUILTIN
            .get_or_init(|| OwnerTable::load(BUILTIN_TEXT))
            .as_ref()
            .unwrap_or(&EMPTY)
    }

    /// Parse and check an owner table: every entry has a service, programs and sources that
    /// `[sources]` defines, and no empty argument run.
    ///
    /// # Errors
    ///
    /// A message naming the entry and what is wrong.
    pub fn load(text: &str) -> Result<OwnerTable, String> {
        let table: OwnerTable =
            toml::from_str(text).map_err(|e| format!("owner table does not parse: {e}"))?;
        for owner in &table.owners {
            let name = &owner.service;
            if name.is_empty() || owner.programs.is_empty() || owner.protos.is_empty() {
                return Err(format!(
                    "owner entry \"{name}\" needs a service, programs and protos"
                ));
            }
            if owner.args.iter().any(Vec::is_empty) {
                return Err(format!("owner entry \"{name}\" has an empty argument run"));
            }
            if owner.sources.is_empty() {
                return Err(format!("owner entry \"{name}\" cites no source"));
            }
            if let Some(id) = owner
                .sources
                .iter()
                .find(|id| !table.sources.contains_key(*id))
            {
                return Err(format!(
                    "owner entry \"{name}\" cites \"{id}\", which [sources] does not define"
                ));
            }
        }
        Ok(table)
    }

    /// The first entry matching one of `processes` for a listener of `proto`: the entry and the
    /// pid it matched.
    #[must_use]
    pub fn identify(&self, processes: &[ProcessInfo], proto: Proto) -> Option<(&OwnerRule, u32)> {
        // The names of each process once, not once per entry (a listing asks this per socket).
        let named: Vec<(Vec<&str>, &ProcessInfo)> =
            processes.iter().map(|p| (program_names(p), p)).collect();
        self.owners
            .iter()
            .filter(|o| o.protos.contains(&proto))
            .find_map(|o| {
                named
                    .iter()
                    .find(|(names, p)| o.matches(names, &p.cmdline))
                    .map(|(_, p)| (o, p.pid))
            })
    }

    /// The protocol a handshake names for a listener whose service is `service`: the `speaks`
    /// of the first entry naming that service, else the service itself.
    #[must_use]
    pub fn speaks<'a>(&'a self, service: &'a str) -> &'a str {
        self.owners
            .iter()
            .find(|o| o.service == service)
            .map_or(service, OwnerRule::speaks)
    }
}

/// The service of a listener and how it was identified, from the port's name and the owner
/// table's entry for its owners: the owner wins, except where the port has a more specific name
/// the owner also serves (`port_names`) or the owner names services only on its own ports.
#[must_use]
pub fn combine(
    port_name: Option<&str>,
    owner: Option<&OwnerRule>,
) -> (Option<String>, Vec<ServiceSource>) {
    let by_port = || {
        (
            port_name.map(str::to_owned),
            port_name.map(|_| ServiceSource::Port).into_iter().collect(),
        )
    };
    let Some(owner) = owner else {
        return by_port();
    };
    let own_port = port_name
        .is_some_and(|name| name == owner.service || owner.port_names.iter().any(|n| n == name));
    if own_port {
        return (port_name.map(str::to_owned), vec![ServiceSource::Process]);
    }
    if owner.own_ports_only {
        return by_port();
    }
    (Some(owner.service.clone()), vec![ServiceSource::Process])
}

/// The file names a process goes by: its name, its executable's and its first argument's file
/// names (the second argument's too after an interpreter), version suffixes removed.
fn program_names(process: &ProcessInfo) -> Vec<&str> {
    // Both the name as written (apache2) and without its version suffix (python3.11 → python).
    fn push<'a>(names: &mut Vec<&'a str>, raw: &'a str) {
        let base = basename(raw);
        for name in [base, unversioned(base)] {
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let mut names: Vec<&str> = Vec::with_capacity(6);
    if let Some(name) = &process.name {
        push(&mut names, name);
    }
    if let Some(exe) = &process.exe {
        push(&mut names, exe.strip_suffix(" (deleted)").unwrap_or(exe));
    }
    if let Some(first) = process.cmdline.first() {
        // A rewritten title such as `sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups`.
        let first = first.split_whitespace().next().unwrap_or("");
        push(&mut names, first.strip_suffix(':').unwrap_or(first));
        let interpreted = INTERPRETERS.contains(&unversioned(basename(first)));
        if let Some(second) = process.cmdline.get(1).filter(|a| !a.starts_with('-'))
            && interpreted
        {
            push(&mut names, second);
        }
    }
    names
}

/// The file name of a path.
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A program name without its version suffix: `python3.11` → `python`, `node18` → `node`.
fn unversioned(name: &str) -> &str {
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    if trimmed.is_empty() || trimmed.len() == name.len() {
        name
    } else {
        trimmed
    }
}

/// True when `run` appears in a row among the arguments after the first.
fn has_run(cmdline: &[String], run: &[String]) -> bool {
    let args = cmdline.get(1..).unwrap_or(&[]);
    args.windows(run.len()).any(|window| {
        window
            .iter()
            .zip(run)
            .all(|(arg, pattern)| glob(pattern, arg) || glob(pattern, basename(arg)))
    })
}

/// `*`-only glob matching of the whole text.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, rest) = (parts[0], &parts[1..]);
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let (last, middle) = match rest.split_last() {
        Some(split) => split,
        None => return true,
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(name: &str, exe: &str, cmdline: &[&str]) -> ProcessInfo {
        ProcessInfo {
            name: Some(name.into()),
            exe: (!exe.is_empty()).then(|| exe.into()),
            cmdline: cmdline.iter().map(|s| (*s).to_owned()).collect(),
            ..ProcessInfo::unknown(42)
        }
    }

    fn service(name: &str, exe: &str, cmdline: &[&str], proto: Proto) -> Option<String> {
        OwnerTable::builtin()
            .identify(&[process(name, exe, cmdline)], proto)
            .map(|(o, _)| o.service.clone())
    }

    #[test]
    fn builtin_table_loads() {
        let table = match OwnerTable::load(BUILTIN_TEXT) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert!(table.owners.len() >= 25);
        assert_eq!(OwnerTable::builtin(), &table);
        for id in table.sources.keys() {
            assert!(
                table.owners.iter().any(|o| o.sources.contains(id)),
                "source {id} is never cited"
            );
        }
        for source in table.sources.values() {
            assert!(source.url.starts_with("https://"), "{}", source.url);
        }
    }

    #[test]
    fn load_rejects_bad_tables() {
        assert!(OwnerTable::load("[[owner]]\nservice = \"x\"\n").is_err());
        let unknown =
            "[[owner]]\nservice = \"x\"\nprograms = [\"x\"]\nsources = [\"NO\"]\n[sources]\n";
        assert!(OwnerTable::load(unknown).unwrap_err().contains("\"NO\""));
        let empty_run = "[[owner]]\nservice = \"x\"\nprograms = [\"x\"]\nargs = [[]]\nsources = [\"A\"]\n[sources]\nA = { title = \"a\", url = \"https://a\" }\n";
        assert!(OwnerTable::load(empty_run).unwrap_err().contains("empty"));
    }

    /// Command lines recorded from real processes (Debian 12 and upstream packages).
    #[allow(clippy::type_complexity)] // a table of rows
    #[test]
    fn recorded_command_lines() {
        use Proto::{Tcp, Udp};
        let rows: &[(&str, &str, &[&str], Proto, Option<&str>)] = &[
            (
                "sshd",
                "/usr/sbin/sshd",
                &["sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"],
                Tcp,
                Some("ssh"),
            ),
            (
                "sshd",
                "/usr/sbin/sshd",
                &["/usr/sbin/sshd", "-D", "-p", "2222"],
                Tcp,
                Some("ssh"),
            ),
            (
                "redis-server",
                "/usr/bin/redis-check-rdb",
                &["/usr/bin/redis-server 127.0.0.1:6380"],
                Tcp,
                Some("redis"),
            ),
            (
                "redis-sentinel",
                "/usr/bin/redis-check-rdb",
                &["/usr/bin/redis-sentinel *:26379 [sentinel]"],
                Tcp,
                Some("redis-sentinel"),
            ),
            (
                "postgres",
                "/usr/lib/postgresql/15/bin/postgres",
                &[
                    "/usr/lib/postgresql/15/bin/postgres",
                    "-D",
                    "/var/lib/postgresql/15/main",
                    "-c",
                    "config_file=/etc/postgresql/15/main/postgresql.conf",
                ],
                Tcp,
                Some("postgresql"),
            ),
            (
                "mariadbd",
                "/usr/sbin/mariadbd",
                &["/usr/sbin/mariadbd"],
                Tcp,
                Some("mysql"),
            ),
            (
                "mysqld",
                "/usr/sbin/mysqld",
                &["/usr/sbin/mysqld"],
                Tcp,
                Some("mysql"),
            ),
            (
                "mongod",
                "/usr/bin/mongod",
                &["/usr/bin/mongod", "--config", "/etc/mongod.conf"],
                Tcp,
                Some("mongodb"),
            ),
            (
                "memcached",
                "/usr/bin/memcached",
                &[
                    "/usr/bin/memcached",
                    "-m",
                    "64",
                    "-p",
                    "11212",
                    "-u",
                    "memcache",
                    "-l",
                    "127.0.0.1",
                ],
                Tcp,
                Some("memcached"),
            ),
            (
                "memcached",
                "/usr/bin/memcached",
                &["/usr/bin/memcached", "-U", "11211"],
                Udp,
                Some("memcached"),
            ),
            (
                "nginx",
                "/usr/sbin/nginx",
                &["nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"],
                Tcp,
                Some("http"),
            ),
            (
                "nginx",
                "/usr/sbin/nginx",
                &["nginx: worker process"],
                Tcp,
                Some("http"),
            ),
            (
                "apache2",
                "/usr/sbin/apache2",
                &["/usr/sbin/apache2", "-k", "start"],
                Tcp,
                Some("http"),
            ),
            (
                "httpd",
                "/usr/sbin/httpd",
                &["/usr/sbin/httpd", "-DFOREGROUND"],
                Tcp,
                Some("http"),
            ),
            (
                "named",
                "/usr/sbin/named",
                &["/usr/sbin/named", "-f", "-u", "bind"],
                Udp,
                Some("dns"),
            ),
            (
                "dnsmasq",
                "/usr/sbin/dnsmasq",
                &[
                    "/usr/sbin/dnsmasq",
                    "--conf-file=/var/lib/libvirt/dnsmasq/default.conf",
                ],
                Udp,
                Some("dns"),
            ),
            (
                "smbd",
                "/usr/sbin/smbd",
                &["/usr/sbin/smbd", "--foreground", "--no-process-group"],
                Tcp,
                Some("smb"),
            ),
            (
                "vsftpd",
                "/usr/sbin/vsftpd",
                &["/usr/sbin/vsftpd", "/etc/vsftpd.conf"],
                Tcp,
                Some("ftp"),
            ),
            (
                "dockerd",
                "/usr/bin/dockerd",
                &[
                    "/usr/bin/dockerd",
                    "-H",
                    "fd://",
                    "-H",
                    "tcp://0.0.0.0:2375",
                ],
                Tcp,
                Some("docker"),
            ),
            (
                "containerd",
                "/usr/bin/containerd",
                &["/usr/bin/containerd"],
                Tcp,
                Some("containerd"),
            ),
            (
                "kubelet",
                "/usr/bin/kubelet",
                &["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml"],
                Tcp,
                Some("kubelet"),
            ),
            (
                "etcd",
                "/usr/local/bin/etcd",
                &[
                    "etcd",
                    "--advertise-client-urls=https://10.0.0.5:2379",
                    "--listen-client-urls=https://127.0.0.1:2379",
                ],
                Tcp,
                Some("etcd"),
            ),
            (
                "jupyter-lab",
                "/usr/bin/python3.11",
                &[
                    "/usr/bin/python3",
                    "/home/ana/.local/bin/jupyter-lab",
                    "--port",
                    "8889",
                ],
                Tcp,
                Some("jupyter"),
            ),
            (
                "python3",
                "/usr/bin/python3.11",
                &["python3", "-m", "jupyter", "notebook"],
                Tcp,
                Some("jupyter"),
            ),
            (
                "jupyter-noteboo",
                "/usr/bin/python3.11",
                &["/usr/bin/python3", "/usr/bin/jupyter-notebook"],
                Tcp,
                Some("jupyter"),
            ),
            (
                "python3",
                "/usr/bin/python3.11",
                &["python3", "-m", "http.server", "8000"],
                Tcp,
                Some("dev-server"),
            ),
            (
                "python3.11",
                "/usr/bin/python3.11",
                &[
                    "/usr/bin/python3.11",
                    "-m",
                    "http.server",
                    "--bind",
                    "127.0.0.1",
                ],
                Tcp,
                Some("dev-server"),
            ),
            (
                "flask",
                "/usr/bin/python3.11",
                &[
                    "/usr/bin/python3",
                    "/usr/local/bin/flask",
                    "run",
                    "--port",
                    "5001",
                ],
                Tcp,
                Some("dev-server"),
            ),
            (
                "python",
                "/usr/bin/python3.11",
                &["python", "manage.py", "runserver", "0.0.0.0:8000"],
                Tcp,
                Some("dev-server"),
            ),
            (
                "python3",
                "/usr/bin/python3.11",
                &["python3", "./manage.py", "runserver"],
                Tcp,
                Some("dev-server"),
            ),
            (
                "uvicorn",
                "/usr/bin/python3.11",
                &[
                    "/srv/app/.venv/bin/python3",
                    "/srv/app/.venv/bin/uvicorn",
                    "main:app",
                    "--host",
                    "0.0.0.0",
                ],
                Tcp,
                Some("http"),
            ),
            (
                "gunicorn",
                "/usr/bin/python3.11",
                &["gunicorn: worker [app:wsgi]"],
                Tcp,
                Some("http"),
            ),
            (
                "python3",
                "/usr/bin/python3.11",
                &["python3", "-m", "uvicorn", "main:app"],
                Tcp,
                Some("http"),
            ),
            (
                "node",
                "/usr/bin/node",
                &["node", "/srv/web/node_modules/.bin/vite"],
                Tcp,
                Some("dev-server"),
            ),
            (
                "node",
                "/usr/bin/node",
                &["node", "/srv/web/node_modules/.bin/next", "dev"],
                Tcp,
                Some("dev-server"),
            ),
            (
                "node",
                "/usr/bin/node",
                &["node", "server.js"],
                Tcp,
                Some("node"),
            ),
            (
                "MainThread",
                "/usr/bin/node",
                &["/usr/bin/node", "/srv/api/index.js"],
                Tcp,
                Some("node"),
            ),
            (
                "java",
                "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                &[
                    "java",
                    "-Xmx1G",
                    "-cp",
                    "/opt/kafka/libs/*",
                    "kafka.Kafka",
                    "/opt/kafka/config/server.properties",
                ],
                Tcp,
                Some("kafka"),
            ),
            (
                "java",
                "/usr/share/elasticsearch/jdk/bin/java",
                &[
                    "/usr/share/elasticsearch/jdk/bin/java",
                    "-Xms4g",
                    "-m",
                    "org.elasticsearch.server/org.elasticsearch.bootstrap.Elasticsearch",
                ],
                Tcp,
                Some("elasticsearch"),
            ),
            (
                "java",
                "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                &[
                    "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                    "-classpath",
                    "/usr/share/tomcat10/bin/bootstrap.jar",
                    "org.apache.catalina.startup.Bootstrap",
                    "start",
                ],
                Tcp,
                Some("http"),
            ),
            (
                "java",
                "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                &[
                    "java",
                    "-cp",
                    "zookeeper.jar",
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    "zoo.cfg",
                ],
                Tcp,
                Some("zookeeper"),
            ),
            // Not identified: a generic interpreter, a Java program the table does not know, a
            // web server's UDP socket is still named (QUIC), sshd never on UDP.
            (
                "python3",
                "/usr/bin/python3.11",
                &["python3", "app.py"],
                Tcp,
                None,
            ),
            (
                "java",
                "/usr/bin/java",
                &["java", "-jar", "app.jar"],
                Tcp,
                None,
            ),
            (
                "sshd",
                "/usr/sbin/sshd",
                &["/usr/sbin/sshd", "-D"],
                Udp,
                None,
            ),
            (
                "bash",
                "/usr/bin/bash",
                &["bash", "-c", "nc -l 2222"],
                Tcp,
                None,
            ),
            (
                "nc",
                "/usr/bin/nc.openbsd",
                &["nc", "-l", "6379"],
                Tcp,
                None,
            ),
            // A name in the argument list is not the program.
            (
                "socat",
                "/usr/bin/socat",
                &["socat", "TCP-LISTEN:22", "EXEC:sshd"],
                Tcp,
                None,
            ),
        ];
        for (name, exe, cmdline, proto, want) in rows {
            assert_eq!(
                service(name, exe, cmdline, *proto).as_deref(),
                *want,
                "{name} {cmdline:?} {proto}"
            );
        }
    }

    #[test]
    fn first_matching_holder_and_entry() {
        let table = OwnerTable::builtin();
        let holders = [
            ProcessInfo {
                pid: 10,
                ..process("bash", "/usr/bin/bash", &["bash"])
            },
            ProcessInfo {
                pid: 11,
                ..process("redis-server", "/usr/bin/redis-server", &["redis-server"])
            },
        ];
        let found = table.identify(&holders, Proto::Tcp);
        assert_eq!(
            found.map(|(o, pid)| (o.service.as_str(), pid)),
            Some(("redis", 11))
        );
        assert_eq!(table.identify(&[], Proto::Tcp), None);
    }

    #[allow(clippy::type_complexity)] // a table of rows
    #[test]
    fn combine_owner_and_port() {
        use ServiceSource::{Port, Process};
        let table = OwnerTable::builtin();
        let owner = |service: &str| table.owners.iter().find(|o| o.service == service);
        let rows: &[(Option<&str>, Option<&str>, Option<&str>, &[ServiceSource])] = &[
            // No owner entry: the port's name.
            (Some("EtherNet-IP-1"), None, Some("EtherNet-IP-1"), &[Port]),
            (None, None, None, &[]),
            // The owner wins.
            (Some("EtherNet-IP-1"), Some("ssh"), Some("ssh"), &[Process]),
            (None, Some("redis"), Some("redis"), &[Process]),
            (Some("redis"), Some("redis"), Some("redis"), &[Process]),
            // A more specific port name the owner also serves stays.
            (Some("https"), Some("http"), Some("https"), &[Process]),
            (
                Some("netbios-ssn"),
                Some("smb"),
                Some("netbios-ssn"),
                &[Process],
            ),
            // dockerd names the Docker API only on its own ports.
            (Some("docker"), Some("docker"), Some("docker"), &[Process]),
            (
                Some("docker-tls"),
                Some("docker"),
                Some("docker-tls"),
                &[Process],
            ),
            (Some("http-alt"), Some("docker"), Some("http-alt"), &[Port]),
            (None, Some("docker"), None, &[]),
        ];
        for &(port, service, want, sources) in rows {
            let entry = service.and_then(owner);
            assert_eq!(service.is_some(), entry.is_some(), "{service:?}");
            assert_eq!(
                combine(port, entry),
                (want.map(str::to_owned), sources.to_vec()),
                "{port:?} {service:?}"
            );
        }
    }

    #[test]
    fn speaks_and_helpers() {
        let table = OwnerTable::builtin();
        assert_eq!(table.speaks("jupyter"), "http");
        assert_eq!(table.speaks("redis"), "redis");
        assert_eq!(table.speaks("unknown-thing"), "unknown-thing");
        assert_eq!(unversioned("python3.11"), "python");
        assert_eq!(unversioned("node18"), "node");
        assert_eq!(unversioned("42"), "42");
        assert_eq!(unversioned("sshd"), "sshd");
        assert!(glob("*vite*", "vite.js"));
        assert!(glob("*next", "next"));
        assert!(!glob("*next", "nextjs"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b", "ba"));
    }
}
