#!/usr/bin/env python3
"""CPU use of `portscope watch` on the benchmark's busy load (bench/run.py's default load).

Builds the load of run.py (150 workers x (10 listeners, 100 connections, 2 UDP) + 400 idle
processes), then for each scenario runs `portscope watch --json --interval 1s` (stdout to a
pipe this script drains) for --seconds, and reports the CPU time it used (utime + stime from
/proc/PID/stat) after its first poll, as a percentage of one core, and the CPU time of the first
poll itself. Scenarios:

  listening  the default view, the load unchanged
  all        --all (every state: 30,000 established sockets dumped every poll)
  churn      the default view while this script opens and closes one listener every second
             (one owner lookup per poll: the worst case for the listening view)
  churn-proc the same with --owner-scan proc (the owner lookups walk /proc, as without BPF)

and, for comparison, the CPU of running `ss -tuln` and `ss -tan` once a second on the same load.

Run as root, with a release build: sudo python3 bench/watch_cpu.py [--portscope PATH]
Only processes this script started are signalled, by pid.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

spec = importlib.util.spec_from_file_location("bench_run", os.path.join(HERE, "run.py"))
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_run"] = bench
spec.loader.exec_module(bench)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    return (int(fields[11]) + int(fields[12])) / TICK


def churn(stop: threading.Event) -> None:
    """Every second a new listener replaces the last one: each poll sees one new socket."""
    last = None
    while not stop.is_set():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        if last is not None:
            last.close()
        last = s
        stop.wait(1.0)
    if last is not None:
        last.close()


def measure(portscope: str, extra: list[str], seconds: float, with_churn: bool) -> tuple:
    p = subprocess.Popen([portscope, "watch", "--json", "--interval", "1s", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    start = time.monotonic()
    first = p.stdout.readline()
    assert '"started"' in first, first
    first_poll_cpu = cpu_seconds(p.pid)
    first_poll_wall = time.monotonic() - start
    events = []
    drain = threading.Thread(target=lambda: events.extend(p.stdout), daemon=True)
    drain.start()
    stop = threading.Event()
    if with_churn:
        threading.Thread(target=churn, args=(stop,), daemon=True).start()
    t0, c0 = time.monotonic(), cpu_seconds(p.pid)
    time.sleep(seconds)
    t1, c1 = time.monotonic(), cpu_seconds(p.pid)
    stop.set()
    p.send_signal(signal.SIGTERM)
    code = p.wait(timeout=10)
    drain.join(timeout=5)
    return (100.0 * (c1 - c0) / (t1 - t0), first_poll_cpu, first_poll_wall, len(events), code)


def ss_per_second(args: list[str], runs: int = 10) -> float:
    """CPU of running `ss ARGS` once a second, as a percentage of one core (the median run)."""
    costs = []
    for _ in range(runs):
        before = os.times()
        subprocess.run(["ss", *args], stdout=subprocess.DEVNULL, check=True)
        after = os.times()
        costs.append((after.children_user - before.children_user)
                     + (after.children_system - before.children_system))
    costs.sort()
    return 100.0 * costs[len(costs) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--portscope", default=os.path.join(ROOT, "target/release/portscope"))
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--only", choices=["listening", "all", "churn", "churn-proc"], action="append",
                    help="run only this scenario (repeatable)")
    args = ap.parse_args()
    portscope = os.path.abspath(args.portscope)
    load = bench.Load(bench.LoadSpec(150, 10, 100, 2, 400))
    bench.ACTIVE.append(load)
    signal.signal(signal.SIGINT, bench.on_signal)
    signal.signal(signal.SIGTERM, bench.on_signal)
    load.start()
    print(f"# load: {load.spec.describe()}")
    print(f"# {bench.machine_line()}")
    print("| scenario | CPU after the first poll (% of one core) | first poll CPU s | "
          "first poll wall s | events | exit |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, extra, with_churn in [("listening", [], False), ("all", ["--all"], False),
                                    ("churn", [], True),
                                    ("churn-proc", ["--owner-scan", "proc"], True)]:
        if args.only and name not in args.only:
            continue
        pct, cpu0, wall0, events, code = measure(portscope, extra, args.seconds, with_churn)
        print(f"| {name} | {pct:.2f} | {cpu0:.2f} | {wall0:.2f} | {events} | {code} |")
        sys.stdout.flush()
    # What polling with ss would cost on the same load: the table it prints, once a second
    # (its CPU time per run; the clock tick makes small figures coarse).
    for name, ss_args in [("`ss -tuln` once a second", ["-tuln"]),
                          ("`ss -tan` once a second", ["-tan"])]:
        print(f"| {name} | {ss_per_second(ss_args):.2f} | | | | |")
    bench.teardown_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
