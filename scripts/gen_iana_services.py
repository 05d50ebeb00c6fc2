#!/usr/bin/env python3
"""Generate src/analyze/services_iana.rs from the IANA service-name registry CSV.

Usage (from the repository root):

    python3 scripts/gen_iana_services.py data/iana-service-names-port-numbers.csv \
        > src/analyze/services_iana.rs

The output is already in rustfmt style, so `cargo fmt --check` passes without reformatting.

Rules, mirrored by the cross-check test in src/analyze/services.rs (keep both in step):
  * rows with an empty Service Name (reserved or unassigned) are skipped;
  * only tcp and udp rows are kept (sctp, dccp and rows without a protocol are skipped);
  * a port range "N-M" is expanded when it spans at most MAX_RANGE ports, otherwise skipped;
  * the first name in registry (file) order wins for each (port, protocol);
  * the snapshot date is the newest Modification Date in the file.

Standard library only. A summary goes to stderr; the Rust source goes to stdout.
"""

import csv
import re
import sys

MAX_RANGE = 64
PROTO_CODES = {"tcp": 0, "udp": 1}
REGEN = (
    "python3 scripts/gen_iana_services.py "
    "data/iana-service-names-port-numbers.csv > src/analyze/services_iana.rs"
)
DATE_RE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def fail(message):
    print(f"gen_iana_services: {message}", file=sys.stderr)
    sys.exit(2)


def parse_ports(text):
    """Return (first, last) for "N" or "N-M", or None when the field is empty or invalid."""
    text = text.strip()
    if not text:
        return None
    first, sep, last = text.partition("-")
    if not first.isdigit() or (sep and not last.isdigit()):
        return None
    lo = int(first)
    hi = int(last) if sep else lo
    if lo > hi or hi > 65535:
        return None
    return lo, hi


def rust_str(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(c) < 0x20 or ord(c) > 0x7E for c in escaped):
        fail(f"service name {text!r} is not printable ASCII")
    return f'"{escaped}"'


def main(argv):
    if len(argv) != 2:
        fail(f"usage: python3 {argv[0]} PATH/TO/iana-service-names-port-numbers.csv > OUT.rs")
    path = argv[1]
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        fail(f"cannot read {path!r}: {err}. Pass the IANA registry CSV export.")

    required = ["Service Name", "Port Number", "Transport Protocol", "Modification Date"]
    if not rows or any(column not in rows[0] for column in required):
        fail(f"{path!r} lacks the columns {required}: is it the IANA registry CSV?")

    table = {}
    skipped_ranges = []
    duplicates = 0
    newest = ""
    for row in rows:
        modified = (row["Modification Date"] or "").strip()
        if DATE_RE.match(modified) and modified > newest:
            newest = modified
        name = (row["Service Name"] or "").strip()
        proto = (row["Transport Protocol"] or "").strip().lower()
        if not name or proto not in PROTO_CODES:
            continue
        ports = parse_ports(row["Port Number"] or "")
        if ports is None:
            continue
        lo, hi = ports
        if hi - lo + 1 > MAX_RANGE:
            skipped_ranges.append(f"{name} {lo}-{hi}/{proto}")
            continue
        for port in range(lo, hi + 1):
            key = (port, PROTO_CODES[proto])
            if key in table:
                duplicates += 1
            else:
                table[key] = name

    if not table:
        fail(f"{path!r} produced no tcp/udp entries")
    if not newest:
        fail(f"{path!r} has no Modification Date: cannot name the snapshot")

    out = []
    emit = out.append
    emit("//! Service names from the IANA Service Name and Transport Protocol Port Number Registry.")
    emit("//!")
    emit("//! GENERATED FILE, DO NOT EDIT: change scripts/gen_iana_services.py and regenerate with")
    emit("//!")
    emit("//! ```text")
    emit(f"//! {REGEN}")
    emit("//! ```")
    emit("//!")
    emit("//! Source: <https://www.iana.org/assignments/service-names-port-numbers/>, CSV export.")
    emit("//! The registry is dedicated to the public domain under CC0 1.0")
    emit("//! (<https://www.iana.org/help/licensing-terms>).")
    emit(f"//! Snapshot date: {newest} (the newest Modification Date in the CSV).")
    emit("//!")
    emit("//! Kept: rows with a service name on tcp or udp; the first name in registry order for each")
    emit(f"//! (port, protocol); port ranges of at most {MAX_RANGE} ports expanded, larger ones skipped")
    emit(f"//! ({len(skipped_ranges)} in this snapshot). {len(table)} entries.")
    emit("//!")
    emit("//! Data only: no lookups and no I/O here (see `services.rs`).")
    emit("")
    emit("/// (port, protocol: 0 = tcp, 1 = udp, IANA service name), sorted by (port, protocol), one")
    emit("/// entry per (port, protocol).")
    emit("pub(crate) static IANA: &[(u16, u8 /* 0 = tcp, 1 = udp */, &str)] = &[")
    for (port, code) in sorted(table):
        emit(f"    ({port}, {code}, {rust_str(table[(port, code)])}),")
    emit("];")
    sys.stdout.write("\n".join(out) + "\n")

    print(
        f"gen_iana_services: {len(rows)} rows, {len(table)} tcp/udp entries, "
        f"{duplicates} later names for an already named (port, protocol) dropped, "
        f"{len(skipped_ranges)} ranges over {MAX_RANGE} ports skipped"
        + (f" ({', '.join(skipped_ranges)})" if skipped_ranges else "")
        + f", snapshot {newest}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(sys.argv)
