#!/usr/bin/env python3
"""Side-by-side timing of the two backends on Linux (docs/architecture.md, Backends): opens N
loopback listeners and N/2 connections, then runs `portscope --json` and `--all --json` with
--backend auto (sock_diag) and --backend netstat2, interleaved, and prints the medians.
Usage: bench/backends.py PATH-TO-PORTSCOPE [N]. A measurement, not a test."""
import socket, subprocess, time, statistics, sys, os
BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
socks = []
# N TCP listeners and N/2 established pairs on loopback, held by this process
for i in range(N):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); socks.append(s)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(4096); socks.append(srv)
for i in range(N // 2):
    c = socket.create_connection(srv.getsockname()); a, _ = srv.accept(); socks += [c, a]
def t(args):
    st = time.perf_counter(); subprocess.run([BIN] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); return (time.perf_counter() - st) * 1000
for view, extra in [("listening", []), ("--all", ["--all"])]:
    res = {"auto": [], "netstat2": []}
    for _ in range(15):
        for b in res:
            res[b].append(t(["--backend", b, "--json"] + extra))
    print(f"{view:10} sock_diag {statistics.median(res['auto']):7.1f} ms   netstat2 {statistics.median(res['netstat2']):7.1f} ms   (median of 15, {len(socks)} sockets of this process + the host's)")
