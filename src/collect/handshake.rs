//! The network half of `--identify`: connect to this machine's own listeners, send the bytes a
//! greeting planned by `analyze/handshake.rs`, and read the reply within fixed limits.
//!
//! It must not decide what to send or what a reply means (that is pure, in analyze), connect to
//! an address that is not loopback or one of the machine's own (checked again here), or read
//! more than the limits allow. Greetings run on a bounded number of threads so that a host with
//! many listeners stays fast and a silent one costs one read timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::model::{HandshakeLimits, HandshakeReply, HandshakeStep, HandshakeTarget, StepResult};

/// Greet every target, at most `limits.concurrency` at a time; the replies of each target's
/// steps in order, stopping at the first step that got a reply or could not connect. A target
/// whose address is neither loopback nor in `local` gets no reply at all (it is never
/// contacted).
#[must_use]
pub fn shake_all(
    targets: &[HandshakeTarget],
    local: &[IpAddr],
    limits: &HandshakeLimits,
) -> Vec<Vec<HandshakeReply>> {
    let results: Mutex<Vec<Vec<HandshakeReply>>> = Mutex::new(vec![Vec::new(); targets.len()]);
    let next = AtomicUsize::new(0);
    let workers = limits.concurrency.clamp(1, targets.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = targets.get(i) else {
                        break;
                    };
                    let replies = shake(target, local, limits);
                    if let Ok(mut all) = results.lock()
                        && let Some(slot) = all.get_mut(i)
                    {
                        *slot = replies;
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_default()
}

/// Greet one target.
fn shake(
    target: &HandshakeTarget,
    local: &[IpAddr],
    limits: &HandshakeLimits,
) -> Vec<HandshakeReply> {
    let ip = target.address.ip();
    if !(ip.is_loopback() || local.contains(&ip)) {
        return Vec::new();
    }
    let mut replies = Vec::with_capacity(target.steps.len());
    for step in &target.steps {
        let reply = step_once(target, step, limits);
        let stop = !matches!(reply.result, StepResult::Silent | StepResult::Closed);
        replies.push(reply);
        if stop {
            break;
        }
    }
    replies
}

/// One step: connect, send, read until end of file, the byte limit or a pause.
fn step_once(
    target: &HandshakeTarget,
    step: &HandshakeStep,
    limits: &HandshakeLimits,
) -> HandshakeReply {
    let reply = |result, bytes| HandshakeReply {
        probe: step.probe,
        result,
        bytes,
    };
    let mut stream = match TcpStream::connect_timeout(&target.address, limits.connect_timeout) {
        Ok(stream) => stream,
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            return reply(StepResult::ConnectTimeout, Vec::new());
        }
        Err(_) => return reply(StepResult::ConnectFailed, Vec::new()),
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(limits.read_timeout));
    if !step.send.is_empty() && stream.write_all(&step.send).is_err() {
        return reply(StepResult::Closed, Vec::new());
    }
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; limits.max_bytes.min(64 * 1024)];
    // The whole read never takes longer than the first-byte wait plus a few pauses, however
    // slowly a server drips bytes.
    let deadline = Instant::now() + limits.read_timeout + limits.idle_timeout * 5;
    let mut result = StepResult::Silent;
    while bytes.len() < limits.max_bytes {
        let wait = if bytes.is_empty() {
            limits.read_timeout
        } else {
            limits.idle_timeout
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(wait.min(left))).is_err() {
            break;
        }
        let room = (limits.max_bytes - bytes.len()).min(buf.len());
        match stream.read(&mut buf[..room]) {
            Ok(0) => {
                if bytes.is_empty() {
                    result = StepResult::Closed;
                }
                break;
            }
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                result = StepResult::Replied;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(_) => {
                if bytes.is_empty() {
                    result = StepResult::Closed;
                }
                break;
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    reply(result, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HandshakeProbe;
    use std::net::{SocketAddr, TcpListener};
    use std::time::Duration;

    fn limits() -> HandshakeLimits {
        HandshakeLimits {
            read_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(50),
            ..HandshakeLimits::default()
        }
    }

    fn banner_target(address: SocketAddr) -> HandshakeTarget {
        HandshakeTarget {
            address,
            steps: vec![
                HandshakeStep {
                    probe: HandshakeProbe::Banner,
                    send: Vec::new(),
                },
                HandshakeStep {
                    probe: HandshakeProbe::Http,
                    send: b"HEAD / HTTP/1.0\r\n\r\n".to_vec(),
                },
            ],
        }
    }

    #[test]
    fn banner_then_stop() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(b"SSH-2.0-Test\r\n").unwrap();
            conn
        });
        let replies = shake_all(&[banner_target(address)], &[], &limits());
        drop(server.join());
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].len(), 1, "{:?}", replies[0]);
        assert_eq!(replies[0][0].result, StepResult::Replied);
        assert_eq!(replies[0][0].bytes, b"SSH-2.0-Test\r\n");
    }

    #[test]
    fn silent_listener_gets_every_step_and_the_byte_limit_holds() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        // Accepted by the kernel's backlog, never read: silent.
        let replies = shake_all(&[banner_target(address)], &[], &limits());
        assert_eq!(replies[0].len(), 2);
        assert!(replies[0].iter().all(|r| r.result == StepResult::Silent));
        drop(listener);

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let _ = conn.write_all(&[b'x'; 10_000]);
            conn
        });
        let small = HandshakeLimits {
            max_bytes: 100,
            ..limits()
        };
        let replies = shake_all(&[banner_target(address)], &[], &small);
        drop(server.join());
        assert_eq!(replies[0][0].bytes.len(), 100);
    }

    #[test]
    fn never_contacts_another_machine() {
        let target = banner_target("192.0.2.1:22".parse().unwrap());
        let replies = shake_all(&[target], &[], &limits());
        assert_eq!(replies, vec![Vec::new()]);
    }
}
