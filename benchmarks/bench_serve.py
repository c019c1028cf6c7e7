"""How fast ``modelshelf serve`` answers, and what a hot swap costs its clients.

    python benchmarks/bench_serve.py                    # 4 clients, 10 s per phase
    python benchmarks/bench_serve.py --clients 8 --seconds 20 --rows 100

A SQLite registry in a temporary directory gets two versions of ``bench``
(a random forest as ``champion``, a logistic regression as the challenger),
and ``modelshelf serve bench@champion`` starts as a user starts it, in its
own process. ``--clients`` threads then post one ``dataframe_split`` body of
``--rows`` rows back to back, each on its own keep-alive connection:

1. steady state: requests per second, and the median, p99 and worst latency;
2. a swap under the same load: ``champion`` moves to the challenger, and the
   figures are the failed requests (the target is none), the time from the
   alias move to the first answer from the new version (at most one poll
   interval plus the load), and the worst latency in the second around it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def build(path: Path, rows: int) -> str:
    """The registry, and the JSON body the clients post."""
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from modelshelf import ModelRegistry

    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    with ModelRegistry(path) as registry:
        forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(frame, y)
        registry.save_model(forest, "bench", metrics={"f1": 0.9})
        registry.set_alias("bench:1.0.0", "champion")
        logistic = LogisticRegression(max_iter=1000).fit(frame, y)
        registry.save_model(logistic, "bench", metrics={"f1": 0.8})
    return json.dumps({"dataframe_split": frame.head(rows).to_dict(orient="split")})


class Clients:
    """Threads posting back to back; each answer kept as (start, seconds, version)."""

    def __init__(self, port: int, body: str, count: int) -> None:
        self.port = port
        self.body = body.encode()
        self.stop = threading.Event()
        self.answers: list[tuple[float, float, str]] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.connect()
        # http.client writes headers and body in two sends: without this, Nagle's
        # algorithm and delayed ACKs add 40 ms to every request (urllib3 sets it too).
        assert connection.sock is not None
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def run(self) -> None:
        connection = self.connect()
        headers = {"Content-Type": "application/json"}
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                connection.request("POST", "/predict", body=self.body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failures.append(repr(exc))
                connection.close()
                connection = self.connect()
                continue
            took = time.perf_counter() - started
            with self.lock:
                if response.status != 200:
                    self.failures.append(f"{response.status}: {payload[:200]!r}")
                else:
                    version = response.getheader("X-Modelshelf-Version") or "?"
                    self.answers.append((started, took, version))
        connection.close()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def latency(answers: list[tuple[float, float, str]]) -> dict[str, float]:
    times = sorted(took * 1000 for _, took, _ in answers)
    if not times:
        return {}
    return {
        "median_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
        "worst_ms": round(times[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    args = parser.parse_args()
    from modelshelf import ModelRegistry

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry"
        body = build(path, args.rows)
        command = [sys.executable, "-m", "modelshelf.cli", "serve", "bench@champion"]
        options = ["--port", "0", "--poll-interval", str(args.poll_interval)]
        server = subprocess.Popen(
            [*command, "--registry", str(path), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert server.stdout is not None
            banner = server.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", banner)
            if not found:
                raise SystemExit(f"the server did not start: {banner!r}")
            results: dict[str, Any] = {"clients": args.clients, "rows": args.rows}

            clients = Clients(int(found.group(1)), body, args.clients)
            time.sleep(1.0)  # warm up
            begin, mark = time.perf_counter(), len(clients.answers)
            time.sleep(args.seconds)
            steady = clients.answers[mark:]
            results["steady"] = {
                "requests_per_s": round(len(steady) / (time.perf_counter() - begin), 1),
                **latency(steady),
            }

            with ModelRegistry(path) as registry:
                moved = time.perf_counter()
                registry.set_alias("bench:1.0.1", "champion")
            deadline = moved + args.poll_interval + 60
            first_new = None
            while first_new is None and time.perf_counter() < deadline:
                time.sleep(0.01)
                first_new = next((s + t for s, t, v in list(clients.answers) if v == "1.0.1"), None)
            time.sleep(1.0)
            clients.finish()
            around = [a for a in clients.answers if abs(a[0] - moved) < 1.0]
            if first_new is not None:
                around += [a for a in clients.answers if abs(a[0] - first_new) < 1.0]
            results["swap"] = {
                "failed_requests": len(clients.failures),
                "seconds_to_first_new_answer": (
                    round(first_new - moved, 3) if first_new is not None else None
                ),
                "worst_ms_around_swap": latency(around).get("worst_ms"),
                "answers_total": len(clients.answers),
            }
            print(json.dumps(results, indent=2))
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
