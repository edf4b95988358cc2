"""Load on /api/chat from loopback clients against `hotline serve` (several workers); bounded in time.

    .venv/bin/python bench/bench_load.py [--workers 2] [--seconds 20] [--clients 8 32]

Starts the server on a free 127.0.0.1 port with its own SQLite database and rate limits off, replays dev-set
questions from concurrent clients, then counts the stored messages (every turn must have stored 2). Prints JSON.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questions() -> list[str]:
    out = []
    for f in sorted((ROOT / "eval" / "dev").glob("*.jsonl")):
        for raw in f.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                out.append(json.loads(raw)["turns"][-1])
    return out


def wait_healthy(port: int, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("server did not become healthy")


def run_clients(port: int, n_clients: int, seconds: float, qs: list[str]) -> dict:
    stop = time.time() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = k
        while time.time() < stop:
            body = json.dumps({"message": qs[i % len(qs)], "session_id": None, "channel": "web"}).encode()
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/chat", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except OSError:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                if ok:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors[0] += 1
            i += n_clients

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    return {"clients": n_clients, "requests": len(latencies), "errors": errors[0],
            "turns_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
            "p99_ms": round(float(np.percentile(latencies, 99)), 1) if latencies else None}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "load.db"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "HOTLINE_RATE_LIMIT_IP_PER_MINUTE": "0",
               "HOTLINE_RATE_LIMIT_SESSION_PER_MINUTE": "0", "HOTLINE_WORKERS": str(args.workers)}
        server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "hotline"), "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(port)
            qs = questions()
            run_clients(port, 2, 3, qs)  # warm-up
            results = [run_clients(port, n, args.seconds, qs) for n in args.clients]
        finally:
            server.terminate()
            server.wait(timeout=30)
        import sqlite3

        with sqlite3.connect(db) as conn:
            stored = conn.execute("SELECT role, COUNT(*) FROM messages GROUP BY role").fetchall()
    stored = dict(stored)
    print(json.dumps({"workers": args.workers, "runs": results, "stored_messages": stored,
                      "lost_messages": int(stored.get("user", 0) - stored.get("bot", 0))}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
