#!/usr/bin/python3
"""Loopback swarm benchmark: tt, libtorrent and Transmission side by side.

Usage: bench_swarm.py --tt TT [--baseline TT] --dir DIR [--size-mib N] [--swarm-mib N]
                      [--swarm-cap-mib N] [--runs N] [--only LIST]

Every transfer moves the same single-file torrent on 127.0.0.1 from a
seeder that already has it to a leecher that starts empty: over TCP, and
in cases g, h and i over uTP only (libtorrent with TCP off, tt dialling
uTP only). For the
leecher it records wall time (from its start to its having every piece),
CPU seconds (user + system) and peak RSS; for the seeder, the CPU it spent.
The swarm runs time one seeder with a capped upload and six leechers that
find each other through opentracker, for tt and for libtorrent.

Prints a Markdown report on stdout; progress on stderr.
"""
import argparse
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
LT_PEER = os.path.join(HERE, "lt_peer.py")
PY = "/usr/bin/python3"


def note(*a):
    print("bench-swarm:", *a, file=sys.stderr, flush=True)


class Proc:
    """A child whose stdout lines can be awaited and whose CPU is measured."""

    def __init__(self, argv, cwd, stdout_file=None):
        self.argv = argv
        self.start = time.monotonic()
        self.err = open(os.path.join(cwd, "stderr-%d.log" % int(self.start * 1000)), "w")
        self.p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=self.err,
                                  start_new_session=True, text=True)
        self.lines = []
        self.rusage = None
        self.status = None
        self.end = None

    def wait_line(self, pred, timeout):
        deadline = time.monotonic() + timeout
        fd = self.p.stdout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("%s: no expected line within %.0fs" % (self.argv[0], timeout))
            r, _, _ = select.select([fd], [], [], min(left, 0.5))
            if r:
                line = fd.readline()
                if not line:
                    raise RuntimeError("%s exited early: %s" % (self.argv, self.tail()))
                self.lines.append(line)
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if pred(ev):
                    return ev

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                self.end = time.monotonic()
                self.status, self.rusage = status, ru
                self.p.returncode = os.waitstatus_to_exitcode(status)
                return self.p.returncode
            if time.monotonic() > deadline:
                raise RuntimeError("%s still running after %.0fs" % (self.argv[0], timeout))
            # keep the pipe drained
            r, _, _ = select.select([self.p.stdout], [], [], 0.05)
            if r:
                line = self.p.stdout.readline()
                if line:
                    self.lines.append(line)

    def cpu_now(self):
        """user+system seconds of a running process, from /proc."""
        with open("/proc/%d/stat" % self.p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick

    def rss_now(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0

    def kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.p.wait(10)
        except Exception:
            pass
        self.err.close()

    def tail(self):
        self.err.flush()
        try:
            with open(self.err.name) as f:
                return f.read()[-2000:]
        except OSError:
            return ""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listening on %d" % port)


class Bench:
    def __init__(self, args):
        self.a = args
        self.dir = args.dir
        self.results = []

    def fresh(self, name):
        d = os.path.join(self.dir, "runs", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    # seeders: return (proc, port)
    def seed_tt(self, torrent, content, cwd, extra=(), tt=None):
        p = Proc([tt or self.a.tt, "seed", "--no-dht", "--no-lsd", "--json", "--no-trackers", "--bind", "127.0.0.1", *extra, torrent, content], cwd)
        ev = p.wait_line(lambda e: e.get("type") == "listening", 120)
        return p, ev["port"]

    def seed_lt(self, torrent, content, cwd, extra=(), tt=None):
        p = Proc([PY, LT_PEER, "seed", torrent, os.path.dirname(content), *extra], cwd)
        ev = p.wait_line(lambda e: e.get("event") == "listening", 60)
        return p, ev["port"]

    # leechers: return (wall, cpu, rss MiB)
    def get_tt(self, torrent, cwd, port, extra=(), tt=None):
        p = Proc([tt or self.a.tt, "get", "--no-dht", "--no-lsd", "-q", "--no-trackers", "--bind", "127.0.0.1", "--peer", "127.0.0.1:%d" % port,
                  "--stall-timeout", "60s", *extra, "-o", os.path.join(cwd, "got"), torrent], cwd)
        code = p.wait_exit(900)
        if code != 0:
            raise RuntimeError("tt get exited %d: %s" % (code, p.tail()))
        ru = p.rusage
        p.kill()
        return p.end - p.start, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024

    def get_lt(self, torrent, cwd, port, extra=(), tt=None):
        p = Proc([PY, LT_PEER, "get", torrent, os.path.join(cwd, "got"), "--peer", "127.0.0.1:%d" % port,
                  "--timeout", "900", *extra], cwd)
        code = p.wait_exit(950)
        if code != 0:
            raise RuntimeError("libtorrent get exited %d: %s" % (code, p.tail()))
        ru = p.rusage
        p.kill()
        return p.end - p.start, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024

    def get_transmission(self, torrent, cwd, seeder):
        """Transmission cannot be given a peer: the seeder dials in."""
        cfg = os.path.join(cwd, "tr-config")
        os.makedirs(cfg)
        with open(os.path.join(cfg, "settings.json"), "w") as f:
            json.dump({"dht-enabled": False, "lpd-enabled": False, "pex-enabled": False, "utp-enabled": False,
                       "port-forwarding-enabled": False, "bind-address-ipv4": "127.0.0.1", "rpc-enabled": False,
                       "message-level": 1, "speed-limit-down-enabled": False}, f)
        got = os.path.join(cwd, "got")
        os.makedirs(got)
        marker = os.path.join(cwd, "finished")
        script = os.path.join(cwd, "done.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\ntouch %s\n" % marker)
        os.chmod(script, 0o755)
        port = free_port()
        p = Proc(["transmission-cli", "-g", cfg, "-M", "-p", str(port), "-w", got, "-f", script, torrent], cwd)
        wait_listening(port, 60)
        s = seeder(port)
        deadline = time.monotonic() + 900
        while not os.path.exists(marker):
            if time.monotonic() > deadline or p.p.poll() is not None:
                raise RuntimeError("Transmission did not finish: %s" % p.tail())
            time.sleep(0.02)
        wall, cpu, rss = time.monotonic() - p.start, p.cpu_now(), p.rss_now()
        p.kill()
        return wall, cpu, rss, s

    def record(self, case, seeder_name, leecher_name, wall, cpu, rss, seed_cpu, size):
        gib = size / (1 << 30)
        row = dict(case=case, seeder=seeder_name, leecher=leecher_name, wall=wall,
                   mbps=size / wall / 1e6, cpu_per_gib=cpu / gib, rss=rss, seed_cpu_per_gib=seed_cpu / gib)
        self.results.append(row)
        note("%s: %s -> %s %.2fs %.0f MB/s leecher %.2f CPU-s/GiB %.0f MiB; seeder %.2f CPU-s/GiB" % (
            case, seeder_name, leecher_name, wall, row["mbps"], row["cpu_per_gib"], rss, row["seed_cpu_per_gib"]))

    def pair(self, case, torrent, content, size, seeder, leecher, transport="tcp", label="tt", tt=None):
        d = self.fresh(case)
        seeders = {"tt": self.seed_tt, "libtorrent": self.seed_lt}
        if leecher == "transmission":
            holder = {}

            def start_seed(port):
                s, _ = seeders[seeder](torrent, content, d, ("--transport", "tcp", "--peer", "127.0.0.1:%d" % port), tt)
                holder["s"] = s
                holder["cpu0"] = s.cpu_now()
                return s
            wall, cpu, rss, s = self.get_transmission(torrent, d, start_seed)
            seed_cpu = s.cpu_now() - holder["cpu0"]
        else:
            extra = ("--transport", transport)
            s, port = seeders[seeder](torrent, content, d, extra, tt)
            cpu0 = s.cpu_now()
            wall, cpu, rss = {"tt": self.get_tt, "libtorrent": self.get_lt}[leecher](torrent, d, port, extra, tt)
            seed_cpu = s.cpu_now() - cpu0
        s.kill()
        shutil.rmtree(d, ignore_errors=True)
        name = lambda n: label if n == "tt" else n
        self.record(case, name(seeder), name(leecher) + (" (uTP)" if transport == "utp" else ""), wall, cpu, rss, seed_cpu, size)

    def swarm(self, kind, torrent, content, size, announce, ih, tt=None):
        """One capped seeder and six leechers through the tracker."""
        d = self.fresh("swarm")
        cap = self.a.swarm_cap_mib << 20
        tt = tt or self.a.tt
        if kind != "libtorrent":
            s = Proc([tt, "seed", "--no-dht", "--no-lsd", "--json", "--bind", "127.0.0.1", "--upload-limit", str(cap), torrent, content], d)
        else:
            s = Proc([PY, LT_PEER, "seed", torrent, os.path.dirname(content), "--upload-limit", str(cap)], d)
        wait_seeders(announce, ih, 1, 60)
        start = time.monotonic()
        leechers = []
        for i in range(6):
            out = os.path.join(d, "got%d" % i)
            if kind != "libtorrent":
                argv = [tt, "get", "--no-dht", "--no-lsd", "-q", "--bind", "127.0.0.1", "--stall-timeout", "120s", "-o", out, torrent]
            else:
                argv = [PY, LT_PEER, "get", torrent, out, "--timeout", "900"]
            leechers.append(Proc(argv, d))
        cpu = 0.0
        for p in leechers:
            code = p.wait_exit(900)
            if code != 0:
                raise RuntimeError("%s swarm leecher exited %d: %s" % (kind, code, p.tail()))
            cpu += p.rusage.ru_utime + p.rusage.ru_stime
        wall = time.monotonic() - start
        for p in leechers:
            p.kill()
        s.kill()
        shutil.rmtree(d, ignore_errors=True)
        self.results.append(dict(case="swarm", kind=kind, wall=wall, cpu=cpu, size=size))
        note("swarm %s: 1 seeder (%d MiB/s) + 6 leechers of %d MiB: %.2fs, leechers %.1f CPU-s" % (
            kind, self.a.swarm_cap_mib, size >> 20, wall, cpu))


def make_file(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    note("writing %s (%d MiB)" % (path, size >> 20))
    with open(path + ".tmp", "wb") as f:
        seed = 0x9E3779B97F4A7C15
        block = bytearray(os.urandom(1 << 20))
        for i in range(size >> 20):
            block[0:8] = (i * seed & (2 ** 64 - 1)).to_bytes(8, "little")
            f.write(block)
    os.rename(path + ".tmp", path)


def wait_seeders(announce, ih_hex, n, timeout):
    """Polls the tracker's scrape until it counts n seeders."""
    q = "".join("%%%02X" % c for c in bytes.fromhex(ih_hex))
    url = announce.replace("/announce", "/scrape") + "?info_hash=" + q
    want = b"8:completei%de" % n
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if want in r.read(4096):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("tracker counts no %d seeders after %ds" % (n, timeout))


def start_opentracker(root, ih_hex):
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    with open(os.path.join(root, "whitelist"), "w") as f:
        f.write(ih_hex + "\n")
    port = free_port()
    p = subprocess.Popen(["opentracker", "-i", "127.0.0.1", "-p", str(port), "-P", str(port),
                          "-d", root, "-u", "nobody", "-w", "whitelist"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_listening(port, 30)
    return p, "http://127.0.0.1:%d/announce" % port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tt", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--swarm-mib", type=int, default=256)
    ap.add_argument("--swarm-cap-mib", type=int, default=8)
    ap.add_argument("--piece", default="1MiB")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--only", default="a,b,c,d,e,f,g,h,i,swarm")
    ap.add_argument("--baseline", help="a second tt binary, run beside --tt in every case that has tt")
    a = ap.parse_args()
    tts = [("tt", a.tt)] + ([("tt (baseline)", a.baseline)] if a.baseline else [])
    os.makedirs(a.dir, exist_ok=True)
    only = set(a.only.split(","))
    b = Bench(a)

    data = os.path.join(a.dir, "data")
    os.makedirs(data, exist_ok=True)
    size = a.size_mib << 20
    content = os.path.join(data, "big.bin")
    make_file(content, size)
    torrent = os.path.join(data, "big.torrent")
    subprocess.run([a.tt, "create", "-q", "--force", "-l", a.piece, "-o", torrent, content], check=True)

    cases = [("a", "libtorrent", "tt"), ("b", "libtorrent", "libtorrent"), ("c", "libtorrent", "transmission"),
             ("d", "tt", "tt"), ("e", "tt", "libtorrent"), ("f", "tt", "transmission"),
             ("g", "tt", "tt", "utp"), ("h", "libtorrent", "libtorrent", "utp"), ("i", "libtorrent", "tt", "utp")]
    for run in range(a.runs):
        # The first transfer of a pair runs on a colder page cache: the
        # binaries take turns at going first.
        order = tts if run % 2 == 0 else tts[::-1]
        for case, seeder, leecher, *transport in cases:
            if case not in only:
                continue
            for label, tt in (order if "tt" in (seeder, leecher) else order[:1]):
                b.pair(case, torrent, content, size, seeder, leecher, *(transport or ["tcp"]), label=label, tt=tt)

    if "swarm" in only:
        sdata = os.path.join(a.dir, "swarm")
        os.makedirs(sdata, exist_ok=True)
        scontent = os.path.join(sdata, "swarm.bin")
        make_file(scontent, a.swarm_mib << 20)
        probe = os.path.join(sdata, "probe.torrent")
        subprocess.run([a.tt, "create", "-q", "--force", "-l", "256KiB", "-o", probe, scontent], check=True)
        ih = json.loads(subprocess.run([a.tt, "inspect", "--json", "--no-files", probe], check=True,
                                       capture_output=True, text=True).stdout)["infohash"]
        for run in range(a.runs):
            for kind, tt in (tts if run % 2 == 0 else tts[::-1]) + [("libtorrent", None)]:
                tr, url = start_opentracker(os.path.join(a.dir, "tracker"), ih)
                try:
                    storrent = os.path.join(sdata, "swarm.torrent")
                    subprocess.run([a.tt, "create", "-q", "--force", "-l", "256KiB", "-a", url, "-o", storrent, scontent],
                                   check=True)
                    b.swarm(kind, storrent, scontent, a.swarm_mib << 20, url, ih, tt)
                finally:
                    os.killpg(tr.pid, signal.SIGKILL)
                    tr.wait()

    # Report.
    print("| case | seeder → leecher | time | throughput | leecher CPU s/GiB | leecher peak RSS | seeder CPU s/GiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in b.results:
        if r["case"] == "swarm":
            continue
        print("| (%s) | %s → %s | %.2f s | %.0f MB/s | %.2f | %.0f MiB | %.2f |" % (
            r["case"], r["seeder"], r["leecher"], r["wall"], r["mbps"], r["cpu_per_gib"], r["rss"], r["seed_cpu_per_gib"]))
    sw = [r for r in b.results if r["case"] == "swarm"]
    if sw:
        print()
        print("| swarm: 1 seeder at %d MiB/s + 6 leechers, %d MiB, via opentracker | all done after | leechers' CPU s |" % (
            a.swarm_cap_mib, a.swarm_mib))
        print("| --- | ---: | ---: |")
        for r in sw:
            print("| %s | %.2f s | %.1f |" % (r["kind"], r["wall"], r["cpu"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
