//! `portscope who PORT[/tcp|/udp]`: every socket on one local port in any state, its owners in
//! detail, a bind probe and advice. Composes collect → analyze → render: the sockets on the
//! port, the bind probe of what they do not explain, each holder's raw facts, the port sysctls,
//! then `analyze::investigation::investigate` and the report.

use std::io::Write;
use std::time::SystemTime;

use anyhow::Result;

use crate::analyze::inventory;
use crate::analyze::investigation::{self, Pieces};
use crate::cli::WhoArgs;
use crate::commands::{Env, Outcome, print_pid_namespace, print_warnings};
use crate::model::{Request, SocketQuery, UnixTime};
use crate::render::Format;
use crate::render::investigation::{WhoDocument, write_report};

/// Run `portscope who`.
///
/// # Errors
/// When the socket table cannot be read or output cannot be written.
pub fn run(args: &WhoArgs, env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> Result<Outcome> {
    let spec = args.port;
    let platform = env.platform();
    let request = Request {
        query: SocketQuery::port(spec),
        owners: true,
    };
    let snapshot = env
        .collector
        .snapshot(&request, &|s| spec.matches(s.proto, s.local_port))?;
    let sockets = inventory::build(&snapshot, env.services());
    let warnings = inventory::warnings(&sockets, &snapshot);
    let now = UnixTime::from_system_time(SystemTime::now()).0;
    let (owner_raw, socket_units) = env.collector.holder_facts(
        investigation::holders(&sockets).into_keys(),
        investigation::needs_socket_units(&sockets),
    );
    let probe = if args.no_probe {
        Vec::new()
    } else {
        platform.probe(spec.port, &investigation::probe_protocols(spec, &sockets))
    };
    let found = investigation::investigate(Pieces {
        spec,
        sockets,
        warnings,
        owner_raw,
        socket_units,
        settings: platform.port_settings(),
        probe,
        now,
        pid_namespace: snapshot.pid_namespace,
    });
    print_warnings(err, &found.warnings)?;
    if args.format() == Format::Json {
        // The human report says it under its heading.
        print_pid_namespace(err, found.shown_namespace())?;
        crate::render::json::write(out, &WhoDocument::of(&found))?;
    } else {
        write_report(out, &WhoDocument::of(&found), env.style)?;
    }
    out.flush()?;
    Ok(if found.verdict.in_use() {
        Outcome::Found
    } else {
        Outcome::NotFound
    })
}
