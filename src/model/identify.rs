//! What a listener was identified as, and how: the ways a service name was found
//! ([`ServiceSource`]), what a local handshake saw ([`Handshake`]), and the plain instructions
//! and replies a handshake is made of ([`HandshakeTarget`], [`HandshakeReply`]).
//!
//! Plain data: nothing here connects anywhere or parses a protocol; the plan and the parsing are
//! in `analyze/handshake.rs`, the connections in `collect/handshake.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a listener's `service` was identified. JSON: `port`, `process`, `handshake`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceSource {
    /// The port number's name (curated table, `/etc/services`, IANA registry).
    Port,
    /// The owning process: its executable, name or command line (`analyze/identify.toml`).
    Process,
    /// What the listener answered to a local handshake (`--identify`).
    Handshake,
}

impl ServiceSource {
    /// `"port"`, `"process"` or `"handshake"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceSource::Port => "port",
            ServiceSource::Process => "process",
            ServiceSource::Handshake => "handshake",
        }
    }
}

/// The wording of a list of sources: `process and handshake`, `port`.
#[must_use]
pub fn sources_label(sources: &[ServiceSource]) -> String {
    let names: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// One kind of handshake step. JSON: `banner`, `redis`, `memcached`, `http`, `docker`, `tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandshakeProbe {
    /// Connect and send nothing: read what the server says first (SSH, FTP, SMTP, POP3, IMAP,
    /// MySQL).
    Banner,
    /// Redis `PING` and `INFO server`.
    Redis,
    /// memcached `version`.
    Memcached,
    /// HTTP `HEAD /`.
    Http,
    /// Docker Engine API `GET /version` over plain HTTP.
    Docker,
    /// A TLS 1.2 ClientHello.
    Tls,
}

impl HandshakeProbe {
    /// The JSON name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeProbe::Banner => "banner",
            HandshakeProbe::Redis => "redis",
            HandshakeProbe::Memcached => "memcached",
            HandshakeProbe::Http => "http",
            HandshakeProbe::Docker => "docker",
            HandshakeProbe::Tls => "tls",
        }
    }
}

/// Whether the service answered without credentials. JSON: `none`, `required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthState {
    /// It answered a command without any credentials.
    None,
    /// It refused the command until the client authenticates (Redis `-NOAUTH`).
    Required,
}

/// What a local handshake with a listener saw (`--identify`). Every field but `probe`,
/// `address`, `identified` and `summary` is `None` or empty when the reply did not tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// The step whose reply is described (the last one tried when nothing answered).
    pub probe: HandshakeProbe,
    /// Where portscope connected: the bound address, or loopback for a wildcard bind.
    pub address: SocketAddr,
    /// True when the reply named a protocol (or showed TLS).
    pub identified: bool,
    /// The service the reply names, in the vocabulary of `service` (`ssh`, `redis`, `http`,
    /// `docker`); `None` for TLS, which wraps any protocol, and when not identified.
    pub service: Option<String>,
    /// One line saying what was seen, e.g. `SSH-2.0-OpenSSH_9.2p1`, `Redis 7.0.15, no
    /// authentication required`, `no reply within 500 ms`.
    pub summary: String,
    /// Whether the service answered without credentials, where the protocol shows it.
    #[serde(default)]
    pub auth: Option<AuthState>,
    /// True when the listener speaks TLS, false when it answered in plain text; `None` when it
    /// did not answer.
    #[serde(default)]
    pub tls: Option<bool>,
    /// The TLS version the server chose (`TLS 1.2`).
    #[serde(default)]
    pub tls_version: Option<String>,
    /// Names in the server's certificate: the subject's CN, then the DNS names of its
    /// subjectAltName.
    #[serde(default)]
    pub certificate_names: Vec<String>,
    /// The software the reply names: the HTTP `Server` header, a banner's product.
    #[serde(default)]
    pub server: Option<String>,
    /// The HTTP status code.
    #[serde(default)]
    pub http_status: Option<u16>,
}

/// One step of a handshake: a fresh connection, these bytes sent (none for a banner), the reply
/// read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeStep {
    /// What the step is.
    pub probe: HandshakeProbe,
    /// The bytes to send after connecting; empty: only read.
    pub send: Vec<u8>,
}

/// A listener to shake hands with: the address (this machine's own) and the steps, tried in
/// order until one gets a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeTarget {
    /// Where to connect.
    pub address: SocketAddr,
    /// The steps, in order.
    pub steps: Vec<HandshakeStep>,
}

/// How one step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// Connected, sent, and read until end of file, the byte limit or a pause.
    Replied,
    /// Connected, but nothing came back before the read timeout.
    Silent,
    /// The peer closed the connection without a byte.
    Closed,
    /// The connection was refused or failed.
    ConnectFailed,
    /// The connection did not complete before the connect timeout.
    ConnectTimeout,
}

/// What one step got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReply {
    /// The step.
    pub probe: HandshakeProbe,
    /// How it went.
    pub result: StepResult,
    /// The bytes read (at most the limit).
    pub bytes: Vec<u8>,
}

/// The limits every handshake keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Time to wait for a connection.
    pub connect_timeout: Duration,
    /// Time to wait for the first byte of a reply.
    pub read_timeout: Duration,
    /// Once bytes came, a pause this long ends the reply.
    pub idle_timeout: Duration,
    /// Bytes read at most per step.
    pub max_bytes: usize,
    /// Listeners probed at once.
    pub concurrency: usize,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            connect_timeout: Duration::from_millis(500),
            read_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(100),
            max_bytes: 4096,
            concurrency: 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        use ServiceSource::*;
        assert_eq!(sources_label(&[]), "");
        assert_eq!(sources_label(&[Port]), "port");
        assert_eq!(
            sources_label(&[Process, Handshake]),
            "process and handshake"
        );
        assert_eq!(
            sources_label(&[Port, Process, Handshake]),
            "port, process and handshake"
        );
    }
}
