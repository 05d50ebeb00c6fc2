# Audit rule reference

<!-- Generated from src/analyze/rules.toml by src/docgen/rules.rs (prose in src/docgen/rules.md.tpl). Do not edit by hand: edit the TOML or the template, then run
     PORTSCOPE_BLESS=1 cargo test --lib docgen::rules
     to regenerate this file. -->

`portscope audit` reports a finding when a listening socket matches one of the {{rule_count}} rules below ({{severity_counts}}) and is reachable from beyond the machine. A rule claims ports of one protocol: TCP and UDP are separate rules because one number can name different services (514/tcp is rsh, 514/udp is syslog). Ports without a rule give no finding. When the listener's owning process (or, with `audit --identify`, a local handshake) identified its service, the rule is chosen by that service on whatever port, not by the number: Redis on 6380 is judged as Redis, and nginx on 6379 is not (docs/services.md). Each rule lists the service names it covers that way. A handshake that shows a risk the socket alone cannot (Redis or memcached answering without authentication, the Docker API or an admin interface over plain HTTP) raises the finding one step, with the evidence in a note.

## Severity scale

The levels follow Shadowserver's published scale ({{ss_sev_link}}). A rule's base severity is Shadowserver's default for the matching report ({{ss_link}}) unless its summary says why it differs.

{{severity_table}}

## Exposure

The base severity applies to a socket reachable on a public address: a wildcard bind on a host with at least one global address, or a bind to a global address. Less exposure lowers it: private, unique-local and shared (CGNAT) addresses by one step ("reachable from the local network"), as do documentation and reserved addresses, which should not be configured at all; link-local addresses by two steps; multicast group binds like link-local, since multicast is rarely routed beyond the local network. A socket reachable only on loopback gives no finding. Lowering stops at info, so a risky service listening beyond loopback is always reported.

{{exposure_table}}

## Why codes

{{why_table}}

## Rules at a glance

{{rules_table}}

## Beyond the port table

Three checks of `portscope audit` do not depend on a (port, protocol) row.

### {{unidentified_public_listener}}

**any port** · **{{unidentified_severity}}** (low when only missing privileges hide the owner)

A listener reachable on a public address whose owning process cannot be identified: no process holds it (a kernel service such as NFS or WireGuard, or a process in another PID namespace), or its holder's file descriptors cannot be read even with privileges. Something answers from the internet and nobody can be named for it. Without privileges the finding is low and says to run as root. It is reported in addition to any port rule the socket matches.

**Fix:** identify the service (kernel modules, containers, `ss -ltunpe`), then stop it, bind it to a private or loopback address, or allowlist it with a reason.

### Loopback listeners with route_localnet

A socket reachable only on loopback normally gives no finding. When `net.ipv4.conf.<interface>.route_localnet=1` is set on any interface (`all` included), packets to 127.0.0.0/8 arriving from outside are no longer dropped as martians, so a neighbour on that link can reach IPv4 loopback listeners (Docker before 28.0 relied on this for ports published to 127.0.0.1). A risky service on IPv4 loopback then gives a finding of its port rule at two steps below the base severity, at least low, with a note naming the interfaces. The fix is `route_localnet=0` unless a DNAT rule needs it.

### Container port forwarders (a note)

A finding on a socket held by {{forwarders}} carries a note rather than a severity of its own: such a listener stands for a published container port, whose traffic is DNATed in PREROUTING and forwarded, so the host's INPUT rules (ufw, firewalld) never see it. Filter in the DOCKER-USER chain, or publish to 127.0.0.1 only.

## Rules

{{rules}}

## Sources

{{sources}}
