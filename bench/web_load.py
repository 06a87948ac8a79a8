"""Load test of ``hdr-expr serve`` on loopback: N requests from C concurrent clients with the sample images.

    .venv/bin/python bench/web_load.py                 # 400 requests, 8 clients, samples/*.png *.jpg *.pdf
    .venv/bin/python bench/web_load.py --requests 100 --clients 4 --samples 'samples/*.png' --json out.json

Starts its own server (``hdr-expr serve`` on a free 127.0.0.1 port) unless ``--url`` names one on loopback.
Every answer is checked against the expected result for its own request: the file name each request sends
is unique and must come back, and the lines must equal what the library reads from that image in this
process. Bounded: stops after ``--requests`` requests or ``--time-limit`` seconds, whichever comes first.
Prints throughput and median / 90th / 99th-percentile latency; exits 1 on any error or mismatch.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import ipaddress
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _wait_healthy(base: str, proc: subprocess.Popen | None, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"web_load: the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as resp:
                return json.loads(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"web_load: no answer from {base} within {timeout:.0f} s") from None
            time.sleep(0.1)


def _percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between closest ranks."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class Client(threading.Thread):
    """One client: a keep-alive connection, requests taken from a shared counter until none are left."""

    def __init__(self, base: str, jobs, expected, results, lock, deadline: float):
        super().__init__(daemon=True)
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.jobs, self.expected, self.results, self.lock, self.deadline = jobs, expected, results, lock, deadline
        self.conn: http.client.HTTPConnection | None = None

    def _send(self, name: str, data: bytes) -> tuple[int, bytes]:
        for attempt in (0, 1):  # one reconnect if the server closed the idle connection
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request("POST", f"/api/recognize?name={urllib.parse.quote(name)}", body=data,
                                  headers={"Content-Type": "application/octet-stream"})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            with self.lock:
                if not self.jobs:
                    break
                index, sample = self.jobs.pop()
            data, lines = self.expected[sample]
            name = f"{index:05d}-{Path(sample).name}"
            t0 = time.perf_counter()
            problem = None
            try:
                status, raw = self._send(name, data)
            except (OSError, http.client.HTTPException) as exc:
                status, raw, problem = -1, b"", f"{type(exc).__name__}: {exc}"
            latency = time.perf_counter() - t0
            if problem is None:
                if status != 200:
                    problem = f"HTTP {status}: {raw[:200]!r}"
                else:
                    body = json.loads(raw)
                    if body.get("file") != name:
                        problem = f"answer for {body.get('file')!r} came back to request {name!r}"
                    elif body.get("lines") != lines:
                        problem = f"{name}: lines differ from the expected result"
            with self.lock:
                self.results.append((index, latency, problem))
        if self.conn is not None:
            self.conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--samples", nargs="+", default=[str(ROOT / "samples" / f"*.{ext}") for ext in ("png", "jpg", "pdf")],
                    help="globs of sample images (default: samples/*.png *.jpg *.pdf)")
    ap.add_argument("--url", help="an already running server on loopback (default: start one)")
    ap.add_argument("--workers", type=int, help="the started server's recognition threads (default: its own)")
    ap.add_argument("--time-limit", type=float, default=600.0, help="stop after this many seconds in any case")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    samples = sorted({f for pattern in args.samples for f in glob.glob(pattern)})
    if not samples:
        print(f"web_load: no sample images match {' '.join(args.samples)}", file=sys.stderr)
        return 2

    proc = None
    if args.url:
        base = args.url.rstrip("/")
        host = urllib.parse.urlsplit(base).hostname or ""
        if not _is_loopback(host):
            print(f"web_load: refusing {base}: this load test only targets loopback servers", file=sys.stderr)
            return 2
    else:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-c", "from hdr_expr.cli.app import main; main()", "serve", "--port", str(port),
               "--log-level", "warning"] + (["--workers", str(args.workers)] if args.workers else [])
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = _wait_healthy(base, proc)

        # What each sample should read as, from the library in this process (not from the server).
        from hdr_expr.pipeline.recognize import Recognizer

        rec = Recognizer()
        expected = {}
        for s in samples:
            data = Path(s).read_bytes()
            expected[s] = (data, next(iter(rec.read(data, name=Path(s).name))).to_dict()["lines"])

        # And, where samples/expected.json says what each sample holds, whether that reading is right.
        truth_file = Path(samples[0]).parent / "expected.json"
        truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.is_file() else {}
        right = {}
        for s in samples:
            want = truth.get(Path(s).name)
            if want is not None:
                got = [(ln["text"], ln["value"], ln["correct"]) for ln in expected[s][1]]
                right[Path(s).name] = got == [(ln["text"], ln["value"], ln["correct"]) for ln in want["lines"]]

        lock = threading.Lock()
        # Warm-up: one request per sample, not timed.
        warm: list = []
        Client(base, [(-1 - i, s) for i, s in enumerate(samples)], expected, warm, lock,
               time.monotonic() + 120).run()
        bad_warm = [p for _, _, p in warm if p]
        if bad_warm:
            print(f"web_load: warm-up failed: {bad_warm[0]}", file=sys.stderr)
            return 1

        jobs = [(i, samples[i % len(samples)]) for i in range(args.requests)][::-1]
        results: list = []
        deadline = time.monotonic() + args.time_limit
        clients = [Client(base, jobs, expected, results, lock, deadline) for _ in range(args.clients)]
        t0 = time.perf_counter()
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        wall = time.perf_counter() - t0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    latencies = [lat for _, lat, _ in results]
    by_sample: dict[str, list[float]] = {}
    for index, lat, _ in results:
        by_sample.setdefault(Path(samples[index % len(samples)]).name, []).append(lat)
    problems = [(i, p) for i, _, p in results if p]
    figures = {
        "requests": len(results),
        "requested": args.requests,
        "clients": args.clients,
        "samples": [Path(s).name for s in samples],
        "server_workers": health.get("workers"),
        "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1min_after": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "seconds": round(wall, 3),
        "throughput_rps": round(len(results) / wall, 2) if wall > 0 else None,
        "latency_ms": {
            "median": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "p90": round(_percentile(latencies, 90) * 1000, 1) if latencies else None,
            "p99": round(_percentile(latencies, 99) * 1000, 1) if latencies else None,
            "max": round(max(latencies) * 1000, 1) if latencies else None,
        },
        "latency_ms_median_by_sample": {k: round(statistics.median(v) * 1000, 1) for k, v in sorted(by_sample.items())},
        "errors": len(problems),
        "matched": len(results) - len(problems),
        "samples_read_as_expected_json_says": right,
    }
    lat = figures["latency_ms"]
    print(f"{figures['requests']} requests from {args.clients} clients, {len(samples)} samples, "
          f"server workers {figures['server_workers']}, {figures['cpu_cores']} CPU cores "
          f"(1-min load average after: {figures['load_average_1min_after']})")
    print(f"  {figures['throughput_rps']} requests/s over {figures['seconds']} s; latency median {lat['median']} ms, "
          f"p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")
    print(f"  answers matched to their own request and equal to the library's reading: {figures['matched']}/{figures['requests']}; "
          f"errors: {figures['errors']}")
    print("  median latency by sample: " + ", ".join(f"{k} {v} ms" for k, v in figures["latency_ms_median_by_sample"].items()))
    if right:
        wrong = [k for k, ok in right.items() if not ok]
        print(f"  samples read as samples/expected.json says: {sum(right.values())}/{len(right)}"
              + (f" (not: {', '.join(wrong)}; that is the model's reading, the same in and out of the server)" if wrong else ""))
    for index, problem in problems[:10]:
        print(f"  request {index}: {problem}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    incomplete = figures["requests"] < args.requests
    if incomplete:
        print(f"  stopped at the time limit ({args.time_limit:.0f} s) before all requests were sent")
    return 1 if problems or incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
