#!/usr/bin/env python3
"""Benchmark portscope against ss, netstat, lsof and fuser on a reproducible loopback load.

What it does, in order:
  1. times the listening view on the machine as it is ("quiet": no benchmark load);
  2. builds a LOOPBACK-ONLY load: N worker processes, each holding L listening TCP sockets,
     C established TCP connections (both ends held by the worker) and U bound UDP sockets,
     plus K idle processes (`sleep`);
  3. checks that portscope's listening set equals ss's ((proto, port, pids) from
     `portscope --json` vs `ss -tulpnH`), and that its two owner scans (`--owner-scan bpf`, the
     default as root, and `--owner-scan proc`) name the same holders of every socket, and
     fails loudly if not;
  4. times, side by side and in alternating order, the listening view, a single-port lookup and
     the all-states view (table and `--all --json`), plus the peak memory of each command (GNU
     time %M);
  5. tears the load down again, by the pids it started, and prints one table.

`--sweep` repeats steps 2-5 for three load sizes and writes an SVG chart of time against load
size (no plotting dependency). `--tiny` is the CI mode: a few workers, a few hundred sockets,
3 runs; it exits non-zero only when the listening sets differ, never because of timings.

Needs python3 (stdlib only) and, for the comparison columns, iproute2 (ss), net-tools (netstat),
lsof, psmisc (fuser) and time (GNU time). A missing tool is shown as "n/a". Run as root to see
every owner (the tools compared all need it for other users' processes).

Only processes this script started are ever signalled, by pid. Traffic stays on 127.0.0.1/::1.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# --------------------------------------------------------------------------------------------
# Load: workers and idle processes
# --------------------------------------------------------------------------------------------


def raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(need, soft), hard) if hard != resource.RLIM_INFINITY else max(need, soft)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def worker_main(listeners: int, conns: int, udps: int) -> None:
    """Entry point of one worker process (`run.py _worker L C U`)."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    raise_nofile(listeners + 2 * conns + udps + 64)
    v6 = ipv6_loopback()
    held = []
    ports = []
    lsocks = []
    for i in range(listeners):
        # Every fifth listener on ::1 when IPv6 is available, the rest on 127.0.0.1.
        if v6 and i % 5 == 4:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.bind(("::1", 0))
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
        s.listen(128)
        lsocks.append(s)
        ports.append(s.getsockname()[1])
    for j in range(conns):
        lst = lsocks[j % len(lsocks)]
        name = lst.getsockname()
        c = socket.socket(lst.family, socket.SOCK_STREAM)
        c.connect(name[:2])
        a, _ = lst.accept()
        held.extend((c, a))
    for k in range(udps):
        if v6 and k % 2 == 1:
            u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            u.bind(("::1", 0))
        else:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.1", 0))
        held.append(u)
    sys.stdout.write("ready " + " ".join(map(str, ports)) + "\n")
    sys.stdout.flush()
    # Hold everything until the parent closes our stdin (or sends SIGTERM).
    try:
        sys.stdin.read()
    finally:
        os._exit(0)


@dataclass
class LoadSpec:
    workers: int
    listeners: int
    conns: int
    udps: int
    idle: int

    def describe(self) -> str:
        return (
            f"{self.workers} workers x ({self.listeners} listeners, {self.conns} connections, "
            f"{self.udps} UDP) + {self.idle} idle processes = "
            f"{self.workers * self.listeners} listeners, {2 * self.workers * self.conns} "
            f"established sockets, {self.workers * self.udps} UDP, "
            f"{self.workers + self.idle} processes"
        )


@dataclass
class Load:
    spec: LoadSpec
    procs: list = field(default_factory=list)
    ports: list = field(default_factory=list)

    def start(self) -> None:
        raise_nofile(4096)
        try:
            for _ in range(self.spec.workers):
                p = subprocess.Popen(
                    [
                        sys.executable,
                        os.path.abspath(__file__),
                        "_worker",
                        str(self.spec.listeners),
                        str(self.spec.conns),
                        str(self.spec.udps),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                self.procs.append(p)
            for p in self.procs:
                line = p.stdout.readline().split()
                if not line or line[0] != "ready":
                    raise RuntimeError(f"worker pid {p.pid} failed to build its sockets")
                self.ports.extend(int(x) for x in line[1:])
            for _ in range(self.spec.idle):
                self.procs.append(
                    subprocess.Popen(
                        ["sleep", "86400"],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                    )
                )
        except BaseException:
            self.stop()
            raise
        # Let the last connections settle out of SYN_RECV.
        time.sleep(0.5)

    def stop(self) -> None:
        """End every process this load started, by pid, and reap it."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            for stream in (p.stdin, p.stdout):
                if stream:
                    stream.close()
        self.procs = []


ACTIVE: list[Load] = []


def teardown_all() -> None:
    while ACTIVE:
        ACTIVE.pop().stop()


atexit.register(teardown_all)


def on_signal(signum, _frame):
    teardown_all()
    sys.exit(128 + signum)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------

GNU_TIME = "/usr/bin/time"


def available(argv: list[str]) -> bool:
    return shutil.which(argv[0]) is not None


def run_timed(argv: list[str], env: dict | None = None) -> float:
    """Wall-clock seconds of one run, output to /dev/null."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
    ]
    exe = shutil.which(argv[0]) or argv[0]
    t0 = time.perf_counter()
    pid = os.posix_spawn(exe, argv, env or os.environ, file_actions=actions)
    os.waitpid(pid, 0)
    return time.perf_counter() - t0


def peak_rss_kib(argv: list[str]) -> int | None:
    """Maximum RSS of one run in KiB, from GNU time's %M (wait4's ru_maxrss)."""
    exe = shutil.which(argv[0]) or argv[0]
    if os.path.exists(GNU_TIME):
        r = subprocess.run(
            [GNU_TIME, "-f", "%M", exe, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        last = r.stderr.strip().splitlines()[-1:] or [""]
        try:
            return int(last[0])
        except ValueError:
            return None
    # Fallback without GNU time: the same kernel figure through wait4.
    pid = os.posix_spawn(
        exe,
        argv,
        os.environ,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
        ],
    )
    _, _, ru = os.wait4(pid, 0)
    return ru.ru_maxrss


@dataclass
class Cmd:
    group: str
    label: str
    argv: list
    reference: bool = False  # the ss command the ratios are relative to
    target: float | None = None  # a target ratio for a portscope row other than the group's first
    times: list = field(default_factory=list)
    rss: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return available(self.argv)

    def median_ms(self) -> float | None:
        return statistics.median(self.times) * 1000 if self.times else None

    def median_rss(self) -> int | None:
        vals = [r for r in self.rss if r is not None]
        return int(statistics.median(vals)) if vals else None


def measure(cmds: list[Cmd], runs: int, rss_runs: int, warmup: int = 1) -> None:
    """Alternate: every round runs each command once, in a rotated order."""
    live = [c for c in cmds if c.ok]
    for _ in range(warmup):
        for c in live:
            run_timed(c.argv)
    for r in range(runs):
        k = r % len(live) if live else 0
        for c in live[k:] + live[:k]:
            c.times.append(run_timed(c.argv))
    for r in range(rss_runs):
        for c in live:
            c.rss.append(peak_rss_kib(c.argv))


# --------------------------------------------------------------------------------------------
# Correctness: portscope's listening set vs ss's
# --------------------------------------------------------------------------------------------


def ss_listening_set() -> set:
    out = subprocess.run(
        ["ss", "-tulpnH"], capture_output=True, text=True, check=True
    ).stdout
    # A process name may hold a newline (ss prints it raw): a physical line that does not start
    # with a protocol continues the previous socket's line.
    logical: list[str] = []
    for line in out.split("\n"):
        if line.startswith(("tcp", "udp")) or not logical:
            logical.append(line)
        else:
            logical[-1] += "\n" + line
    result = set()
    for line in logical:
        parts = line.split()
        if len(parts) < 5:
            continue
        proto = parts[0]
        local = parts[4]
        port = int(local.rsplit(":", 1)[1])
        pids = set()
        rest = line.split("users:", 1)
        if len(rest) == 2:
            for chunk in rest[1].split("pid=")[1:]:
                pids.add(int(chunk.split(",", 1)[0].rstrip(")")))
        result.add((proto, port, frozenset(pids)))
    return result


def portscope_listening_set(portscope: str, extra: tuple = ()) -> set:
    out = subprocess.run(
        [portscope, "--json", *extra], capture_output=True, text=True
    ).stdout
    doc = json.loads(out)
    return {
        (
            s["proto"],
            s["local_port"],
            frozenset(p["pid"] for p in s.get("processes") or []),
        )
        for s in doc["sockets"]
    }


def check_listening(portscope: str, tries: int = 5) -> tuple[bool, str]:
    """Compare the sets. Other developers' processes may open or close sockets meanwhile, so ss
    runs before and after portscope; only a difference against a stable ss snapshot counts."""
    if not available(["ss"]):
        return True, "ss missing: correctness check skipped"
    last = ""
    for _ in range(tries):
        before = ss_listening_set()
        mine = portscope_listening_set(portscope)
        after = ss_listening_set()
        if before != after:
            last = "the socket table changed during the check"
            continue
        if mine == before:
            return True, f"listening sets equal ({len(mine)} (proto, port, pids) entries)"
        only_ps = sorted(mine - before, key=str)[:5]
        only_ss = sorted(before - mine, key=str)[:5]
        return False, (
            f"MISMATCH: {len(mine - before)} only in portscope {only_ps}, "
            f"{len(before - mine)} only in ss {only_ss}"
        )
    return True, f"check inconclusive after {tries} tries ({last}); not counted as a mismatch"


def owner_pairs(portscope: str, scan: str) -> tuple[set, int]:
    """Every (proto, inode, pid, fds) of `portscope --all --json --owner-scan SCAN`."""
    r = subprocess.run([portscope, "--all", "--json", "--owner-scan", scan],
                       capture_output=True, text=True)
    if r.returncode not in (0, 1):
        return set(), -1
    doc = json.loads(r.stdout)
    return {
        (s["proto"], s.get("inode"), p["pid"], tuple(p.get("fds") or ()))
        for s in doc["sockets"]
        for p in s.get("processes") or []
    }, len(doc["sockets"])


def check_owner_scans(portscope: str, tries: int = 5) -> tuple[bool, str]:
    """`--owner-scan bpf` and `--owner-scan proc` must name the same holders of every socket
    (issue 14). Skipped where the BPF scan cannot run (not root, no BTF)."""
    if subprocess.run([portscope, "--owner-scan", "bpf", "--port", "1"],
                      capture_output=True).returncode not in (0, 1):
        return True, "BPF owner scan unavailable here: comparison skipped"
    last = ""
    for _ in range(tries):
        proc1, n1 = owner_pairs(portscope, "proc")
        bpf, nb = owner_pairs(portscope, "bpf")
        proc2, n2 = owner_pairs(portscope, "proc")
        if proc1 != proc2:
            last = "the holders changed during the check"
            continue
        if bpf == proc1:
            return True, f"bpf and proc owner scans equal ({len(bpf)} (socket, pid, fds) holders)"
        return False, (f"MISMATCH: {len(bpf - proc1)} only from bpf {sorted(bpf - proc1)[:3]}, "
                       f"{len(proc1 - bpf)} only from proc {sorted(proc1 - bpf)[:3]}")
    return True, f"owner-scan check inconclusive after {tries} tries ({last})"


# --------------------------------------------------------------------------------------------
# Commands, table, phases
# --------------------------------------------------------------------------------------------


def portscope_has_who(portscope: str) -> bool:
    r = subprocess.run(
        [portscope, "who", "--help"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return r.returncode == 0


def commands(portscope: str, port: int, who: bool) -> list[Cmd]:
    lookup = [portscope, "who", str(port)] if who else [portscope, "--all", "--port", str(port)]
    proc = [portscope, "--owner-scan", "proc"]
    lookup_proc = proc + lookup[1:]
    return [
        Cmd("listen", "portscope", [portscope]),
        Cmd("listen", "portscope --owner-scan proc", proc),
        Cmd("listen", "ss -tulpn", ["ss", "-tulpn"], reference=True),
        Cmd("listen", "netstat -tulpn", ["netstat", "-tulpn"]),
        Cmd("listen", "lsof -nP -iTCP -sTCP:LISTEN", ["lsof", "-nP", "-iTCP", "-sTCP:LISTEN"]),
        Cmd("port", "portscope " + " ".join(lookup[1:-1] + ["P"]), lookup),
        Cmd("port", "portscope --owner-scan proc " + " ".join(lookup[1:-1] + ["P"]), lookup_proc),
        Cmd("port", "ss -tuanp 'sport = :P'", ["ss", "-tuanp", f"sport = :{port}"], reference=True),
        Cmd("port", "lsof -nP -i :P", ["lsof", "-nP", "-i", f":{port}"]),
        Cmd("port", "fuser P/tcp", ["fuser", f"{port}/tcp"]),
        Cmd("all", "portscope --all", [portscope, "--all"]),
        Cmd("all", "portscope --owner-scan proc --all", proc + ["--all"]),
        Cmd("all", "portscope --all --json", [portscope, "--all", "--json"], target=0.5),
        Cmd("all", "ss -tanp", ["ss", "-tanp"], reference=True),
        Cmd("all", "netstat -tanp", ["netstat", "-tanp"]),
    ]


GROUP_TITLES = {
    "quiet": "listening view, quiet machine (no load)",
    "listen": "listening view with owners",
    "port": "single-port lookup",
    "all": "all states with owners",
}

# Issue 14's targets (the first portscope row of each group: the default owner scan, which is
# the BPF iterator when run as root).
TARGETS = {"quiet": 1.0, "listen": 0.25, "port": 0.25, "all": 0.35}


def fmt(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def table(cmds: list[Cmd], runs_by_group: dict) -> tuple[str, list[str]]:
    """Markdown table and the target verdicts."""
    lines = [
        "| view | command | median ms | x ss | peak RSS KiB | RSS x ss |",
        "|---|---|---:|---:|---:|---:|",
    ]
    verdicts = []
    for group in ["quiet", "listen", "port", "all"]:
        members = [c for c in cmds if c.group == group]
        if not members:
            continue
        ref = next((c for c in members if c.reference), None)
        ref_ms = ref.median_ms() if ref else None
        ref_rss = ref.median_rss() if ref else None
        for c in members:
            ms = c.median_ms()
            rss = c.median_rss()
            ratio = ms / ref_ms if ms is not None and ref_ms else None
            rratio = rss / ref_rss if rss is not None and ref_rss else None
            lines.append(
                f"| {GROUP_TITLES[group]} (n={runs_by_group[group]}) | `{c.label}` | "
                f"{fmt(ms, '.1f')} | {fmt(ratio, '.2f')} | {fmt(rss, 'd')} | "
                f"{fmt(rratio, '.2f')} |"
            )
        for mine in members:
            goal = TARGETS[group] if mine is members[0] else mine.target
            if goal is None:
                continue
            # The group's own title for its first row; a further portscope row names itself.
            title = GROUP_TITLES[group] if mine is members[0] else f"`{mine.label}`"
            ms, rss = mine.median_ms(), mine.median_rss()
            if ms is not None and ref_ms:
                r = ms / ref_ms
                verdicts.append(
                    f"{title}: {r:.2f}x ss (target <= {goal}x): "
                    + ("met" if r <= goal else "NOT met")
                )
            if rss is not None and ref_rss:
                r = rss / ref_rss
                verdicts.append(
                    f"{title} peak memory: {r:.2f}x ss (target <= 2x): "
                    + ("met" if r <= 2 else "NOT met")
                )
    return "\n".join(lines), verdicts


def phases(portscope: str, argv_tail: list[str], runs: int) -> dict[str, float]:
    """Median of each phase that `PORTSCOPE_TIMINGS=1` prints on stderr."""
    env = dict(os.environ, PORTSCOPE_TIMINGS="1")
    seen: dict[str, list[float]] = {}
    for _ in range(runs):
        r = subprocess.run(
            [portscope, *argv_tail],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in r.stderr.splitlines():
            # "portscope: timing: <phase> <ms> ms"
            if line.startswith("portscope: timing: "):
                parts = line.split()
                try:
                    seen.setdefault(" ".join(parts[2:-2]), []).append(float(parts[-2]))
                except ValueError:
                    pass
    return {k: statistics.median(v) for k, v in seen.items()}


def phase_table(by_view: dict[str, dict[str, float]]) -> str:
    names: list[str] = []
    for ph in by_view.values():
        for k in ph:
            if k not in names:
                names.append(k)
    if not names:
        return "(this portscope build prints no PORTSCOPE_TIMINGS phases)"
    views = list(by_view)
    lines = ["| phase | " + " | ".join(f"`{('portscope ' + v).strip()}`" for v in views) + " |"]
    lines.append("|---|" + "---:|" * len(views))
    for n in names:
        lines.append(
            f"| {n} | " + " | ".join(fmt(by_view[v].get(n), ".1f") for v in views) + " |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Chart
# --------------------------------------------------------------------------------------------

COLORS = {
    "portscope": "#d62728",
    "ss": "#1f77b4",
    "netstat": "#2ca02c",
    "lsof": "#9467bd",
    "fuser": "#8c564b",
}


def color_for(label: str) -> str:
    if label.startswith("portscope") and "--json" in label:
        return "#ff7f0e"
    if label.startswith("portscope") and "--owner-scan proc" in label:
        return "#e377c2"
    return COLORS.get(label.split()[0], "#555555")


def sweep_table(points: list[tuple[int, list[Cmd]]]) -> str:
    """Median ms of every command at every load size, one column per size."""
    head = "| view | command | " + " | ".join(f"{x:,} TCP sockets" for x, _ in points) + " |"
    lines = [head, "|---|---|" + "---:|" * len(points)]
    for i, c in enumerate(points[0][1]):
        cells = [fmt(cmds[i].median_ms(), ".1f") for _, cmds in points]
        lines.append(f"| {c.group} | `{c.label}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def svg_chart(points: list[tuple[int, list[Cmd]]], path: str) -> None:
    """Three panels (listen, port, all): median ms against established+listening sockets."""
    pw, ph, ml, mr, mt, mb = 300, 230, 55, 10, 30, 45
    legend_h = 110
    width = 3 * (pw + ml + mr)
    height = ph + mt + mb + legend_h
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    xs = [x for x, _ in points]
    xmax = max(xs) * 1.05 if xs else 1
    labels_seen: dict[str, str] = {}
    for gi, group in enumerate(["listen", "port", "all"]):
        ox = gi * (pw + ml + mr) + ml
        series: dict[str, list[tuple[int, float]]] = {}
        for x, cmds in points:
            for c in cmds:
                if c.group == group and c.median_ms() is not None:
                    series.setdefault(c.label, []).append((x, c.median_ms()))
        ymax = max((y for s in series.values() for _, y in s), default=1) * 1.1
        out.append(
            f'<text x="{ox + pw / 2}" y="18" text-anchor="middle" font-weight="bold">'
            f"{GROUP_TITLES[group]}</text>"
        )
        out.append(
            f'<rect x="{ox}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>'
        )
        for i in range(5):
            yv = ymax * i / 4
            y = mt + ph - ph * i / 4
            out.append(f'<line x1="{ox}" x2="{ox + pw}" y1="{y}" y2="{y}" stroke="#eee"/>')
            out.append(f'<text x="{ox - 4}" y="{y + 4}" text-anchor="end">{yv:.0f}</text>')
        for x in xs:
            px = ox + pw * x / xmax
            out.append(
                f'<text x="{px}" y="{mt + ph + 14}" text-anchor="middle">{x / 1000:.0f}k</text>'
            )
        out.append(
            f'<text x="{ox + pw / 2}" y="{mt + ph + 30}" text-anchor="middle">'
            "TCP sockets in the load</text>"
        )
        out.append(
            f'<text x="{ox - 40}" y="{mt + ph / 2}" text-anchor="middle" '
            f'transform="rotate(-90 {ox - 40} {mt + ph / 2})">median ms</text>'
        )
        for label, pts in series.items():
            col = color_for(label)
            labels_seen[label] = col
            coords = " ".join(
                f"{ox + pw * x / xmax:.1f},{mt + ph - ph * y / ymax:.1f}" for x, y in pts
            )
            dash = ' stroke-dasharray="4 3"' if not label.startswith(("portscope", "ss")) else ""
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{col}" stroke-width="2"{dash}/>'
            )
            for x, y in pts:
                out.append(
                    f'<circle cx="{ox + pw * x / xmax:.1f}" cy="{mt + ph - ph * y / ymax:.1f}" '
                    f'r="3" fill="{col}"/>'
                )
    ly = mt + ph + mb + 10
    for i, (label, col) in enumerate(labels_seen.items()):
        lx = 20 + (i % 3) * 330
        yy = ly + (i // 3) * 18
        out.append(f'<line x1="{lx}" x2="{lx + 20}" y1="{yy}" y2="{yy}" stroke="{col}" stroke-width="2"/>')
        label_xml = label.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")
        out.append(f'<text x="{lx + 26}" y="{yy + 4}">{label_xml}</text>')
    out.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def machine_line() -> str:
    cpus = os.cpu_count()
    load = os.getloadavg()
    kernel = os.uname().release
    return f"{cpus} CPUs, kernel {kernel}, load average {load[0]:.2f} at start"


def run_one_load(spec: LoadSpec, portscope: str, who: bool, runs: int, rss_runs: int,
                 phase_runs: int) -> tuple[list[Cmd], bool, str, dict]:
    load = Load(spec)
    ACTIVE.append(load)
    t0 = time.time()
    load.start()
    print(f"# load up in {time.time() - t0:.1f} s: {spec.describe()}", file=sys.stderr)
    try:
        ok, msg = check_listening(portscope)
        print(f"# correctness: {msg}", file=sys.stderr)
        ok2, msg2 = check_owner_scans(portscope)
        print(f"# correctness: {msg2}", file=sys.stderr)
        ok, msg = ok and ok2, f"{msg}; {msg2}"
        port = load.ports[len(load.ports) // 2]
        cmds = commands(portscope, port, who)
        measure(cmds, runs, rss_runs)
        ph = {}
        if phase_runs:
            lookup = ["who", str(port)] if who else ["--all", "--port", str(port)]
            ph = {
                "": phases(portscope, [], phase_runs),
                " ".join(lookup): phases(portscope, lookup, phase_runs),
                "--all": phases(portscope, ["--all"], phase_runs),
                "--all --json": phases(portscope, ["--all", "--json"], phase_runs),
                "--owner-scan proc": phases(portscope, ["--owner-scan", "proc"], phase_runs),
                "--owner-scan proc " + " ".join(lookup): phases(
                    portscope, ["--owner-scan", "proc", *lookup], phase_runs),
                "--owner-scan proc --all": phases(
                    portscope, ["--owner-scan", "proc", "--all"], phase_runs),
            }
    finally:
        ACTIVE.remove(load)
        load.stop()
    return cmds, ok, msg, ph


def main() -> int:
    if len(sys.argv) >= 2 and sys.argv[1] == "_worker":
        worker_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--portscope", default=os.path.join(ROOT, "target/release/portscope"),
                    help="binary to measure (default: target/release/portscope)")
    ap.add_argument("--workers", "-N", type=int, default=150)
    ap.add_argument("--listeners", "-L", type=int, default=10, help="listeners per worker")
    ap.add_argument("--conns", "-C", type=int, default=100, help="connections per worker")
    ap.add_argument("--udp", "-U", type=int, default=2, help="UDP sockets per worker")
    ap.add_argument("--idle", "-K", type=int, default=400, help="idle processes")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per command")
    ap.add_argument("--quiet-runs", type=int, default=21)
    ap.add_argument("--rss-runs", type=int, default=3)
    ap.add_argument("--tiny", action="store_true",
                    help="CI mode: small load, 3 runs; fails only on a correctness mismatch")
    ap.add_argument("--sweep", action="store_true",
                    help="also measure at 1/4 and 1/2 of the load and write an SVG chart")
    ap.add_argument("--svg", default=os.path.join(ROOT, "docs/performance.svg"))
    args = ap.parse_args()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    if args.tiny:
        args.workers, args.listeners, args.conns, args.udp, args.idle = 4, 10, 40, 2, 10
        args.runs, args.quiet_runs, args.rss_runs = 3, 3, 1
        args.sweep = False
    portscope = os.path.abspath(args.portscope)
    if not os.access(portscope, os.X_OK):
        print(f"run.py: {portscope} not found; build it first: cargo build --release",
              file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("# note: not root; owners of other users' processes are invisible to every tool",
              file=sys.stderr)
    who = portscope_has_who(portscope)
    print(f"# {machine_line()}", file=sys.stderr)
    print(f"# single-port lookup uses: portscope {'who P' if who else '--all --port P'}",
          file=sys.stderr)

    quiet = [
        Cmd("quiet", "portscope", [portscope]),
        Cmd("quiet", "portscope --owner-scan proc", [portscope, "--owner-scan", "proc"]),
        Cmd("quiet", "ss -tulpn", ["ss", "-tulpn"], reference=True),
        Cmd("quiet", "netstat -tulpn", ["netstat", "-tulpn"]),
        Cmd("quiet", "lsof -nP -iTCP -sTCP:LISTEN", ["lsof", "-nP", "-iTCP", "-sTCP:LISTEN"]),
    ]
    measure(quiet, args.quiet_runs, args.rss_runs, warmup=2)

    full = LoadSpec(args.workers, args.listeners, args.conns, args.udp, args.idle)
    specs = [full]
    if args.sweep:
        specs = [
            LoadSpec(max(1, full.workers // 4), full.listeners, full.conns, full.udps,
                     full.idle // 4),
            LoadSpec(max(1, full.workers // 2), full.listeners, full.conns, full.udps,
                     full.idle // 2),
            full,
        ]
    all_ok = True
    points = []
    final = None
    for i, spec in enumerate(specs):
        last = i == len(specs) - 1
        cmds, ok, msg, ph = run_one_load(
            spec, portscope, who, args.runs, args.rss_runs if last else 0,
            phase_runs=(3 if args.tiny else 7) if last else 0,
        )
        all_ok &= ok
        tcp = spec.workers * (spec.listeners + 2 * spec.conns)
        points.append((tcp, cmds))
        if len(specs) > 1:
            summary = ", ".join(f"{c.label} {fmt(c.median_ms(), '.0f')}" for c in cmds)
            print(f"# {tcp} TCP sockets: {summary}", file=sys.stderr)
        final = (spec, cmds, msg, ph)

    spec, cmds, msg, ph = final
    runs_by_group = {"quiet": args.quiet_runs, "listen": args.runs, "port": args.runs,
                     "all": args.runs}
    text, verdicts = table(quiet + cmds, runs_by_group)
    print(f"Load: {spec.describe()} (loopback only)")
    print(f"Machine: {machine_line()}")
    print()
    print(text)
    print()
    print("Phases (PORTSCOPE_TIMINGS=1, median ms):")
    print()
    print(phase_table(ph))
    print()
    print(f"Correctness: {msg}")
    if args.tiny:
        print("Targets are defined for the full load; on --tiny they are informational only.")
    for v in verdicts:
        print(f"Target: {v}")
    if args.sweep:
        print()
        print(sweep_table(points))
        print()
        svg_chart(points, args.svg)
        print(f"Chart: {args.svg}")
    leftover = [p.pid for load in ACTIVE for p in load.procs]
    if leftover:
        print(f"run.py: processes left behind: {leftover}", file=sys.stderr)
    if not all_ok:
        print("run.py: FAILED: portscope's listening set differs from ss's, or its two owner "
              "scans differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
