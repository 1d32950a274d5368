#!/usr/bin/env python3
"""Start-up time and peak RSS of the release binary (BENCHMARKS.md, "Issue 12").

Runs `baton --headless` against a fake OpenAI-compatible server on loopback (this script,
standard library only) with the issue's workload: N subtasks in W chains (#i depends on
#(i-W)), every report adds nothing, a fixed model latency, `--approve auto`,
`--max-workers W`. For each run it records

- start-up: from just before the process is spawned to the first request at the fake
  (process start, config, journal, the analysis prompt; no model latency in it); printed
  beside it, what spawning `/usr/bin/time -v /bin/true` costs from this script;
- span: first request to last response at the fake;
- peak RSS: `/usr/bin/time -v`'s "Maximum resident set size" of the whole process.

Usage: benches/startup_rss.py [--bin target/release/baton] [--runs 5] [--latency-ms 200]
       [--n 200] [--w 8]
Prints one line per run and the medians. Nothing is sent beyond 127.0.0.1.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Fake:
    def __init__(self, n, w, latency):
        self.n, self.w, self.latency = n, w, latency
        self.lock = threading.Lock()
        self.first = None
        self.last = None
        self.calls = 0

    def answer(self, body):
        choice = body.get("tool_choice")
        forced = None
        if isinstance(choice, dict):
            forced = choice.get("function", {}).get("name")
        if forced == "submit_analysis":
            subtasks = [
                {"title": f"T{i}", "description": "d", "role": "code_developer",
                 "depends_on": [f"#{i - self.w}"] if i > self.w else [],
                 "priority": "normal", "expected_output": "x"}
                for i in range(1, self.n + 1)
            ]
            return forced, {"complexity": 0.9, "task_type": "t", "known_requirements": [],
                            "unknowns": [], "estimated_subtasks": self.n, "strategy": "s",
                            "subtasks": subtasks}
        if forced == "submit_replan":
            return forced, {"summary": "ok", "add": [], "update": [], "cancel": [],
                            "scope_note": "n"}
        if forced == "assess_completion":
            return forced, {"complete": True, "missing": []}
        if forced == "submit_synthesis":
            return forced, {"deliverable": "done", "integration_points": [], "conflicts": [],
                            "coherence": "ok"}
        return "submit_report", {"status": "complete", "results": "ok", "discoveries": [],
                                 "recommendations": [], "new_subtasks": []}


def handler(fake):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            now = time.monotonic()
            with fake.lock:
                if fake.first is None:
                    fake.first = now
                fake.calls += 1
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            name, args = fake.answer(body)
            time.sleep(fake.latency)
            model = body.get("model", "m")

            def chunk(choices, **extra):
                d = {"id": "c", "object": "chat.completion.chunk", "created": 0,
                     "model": model, "choices": choices}
                d.update(extra)
                return f"data: {json.dumps(d)}\n\n"

            delta = lambda d: chunk([{"index": 0, "delta": d, "finish_reason": None}])
            events = [
                delta({"role": "assistant", "content": ""}),
                delta({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                       "function": {"name": name,
                                                    "arguments": json.dumps(args)}}]}),
                chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
                chunk([], usage={"prompt_tokens": 10, "completion_tokens": 10,
                                 "total_tokens": 20}),
                "data: [DONE]\n\n",
            ]
            payload = "".join(events).encode()
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(payload)))
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            with fake.lock:
                fake.last = time.monotonic()
            self.close_connection = True

    return H


def one_run(binary, n, w, latency):
    fake = Fake(n, w, latency)
    # A backlog bigger than the default 5: W workers and a replan connect at once.
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(fake))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BATON_HOME": home,
               "HOME": home}
        cmd = ["/usr/bin/time", "-v", binary, "--headless", "--provider", "openai",
               "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "gpt-4o",
               "--worker-model", "gpt-4o", "--approve", "auto", "--max-workers", str(w),
               "--max-subtasks", str(n + 10), "--no-project-instructions", "bench task"]
        spawned = time.monotonic()
        p = subprocess.run(cmd, env=env, cwd=home, capture_output=True, text=True)
    server.shutdown()
    if p.returncode != 0:
        sys.exit(f"baton exited {p.returncode}:\n{p.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return {
        "startup_ms": (fake.first - spawned) * 1000.0,
        "span_s": fake.last - fake.first,
        "rss_mb": int(rss.group(1)) / 1024.0 if rss else float("nan"),
        "calls": fake.calls,
    }


def spawn_baseline(runs=20):
    """Median time to spawn and reap `/usr/bin/time -v /bin/true` from here: the part of
    the start-up figure that is this script's and the OS's, not Baton's."""
    ts = []
    for _ in range(runs):
        t = time.monotonic()
        subprocess.run(["/usr/bin/time", "-v", "/bin/true"], capture_output=True)
        ts.append((time.monotonic() - t) * 1000.0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/baton")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--w", type=int, default=8)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    rows = []
    for i in range(a.runs):
        r = one_run(binary, a.n, a.w, a.latency_ms / 1000.0)
        rows.append(r)
        print(f"run {i + 1}: start-up {r['startup_ms']:.1f} ms, span {r['span_s']:.2f} s, "
              f"peak RSS {r['rss_mb']:.1f} MB, {r['calls']} calls", flush=True)
    med = lambda k: statistics.median(r[k] for r in rows)
    lo = lambda k: min(r[k] for r in rows)
    hi = lambda k: max(r[k] for r in rows)
    print(f"spawning /usr/bin/time -v /bin/true takes {spawn_baseline():.1f} ms (median of 20)")
    print(f"N={a.n} W={a.w} L={a.latency_ms:.0f} ms, median of {a.runs}: "
          f"start-up {med('startup_ms'):.1f} ms ({lo('startup_ms'):.1f}-{hi('startup_ms'):.1f}), "
          f"peak RSS {med('rss_mb'):.1f} MB ({lo('rss_mb'):.1f}-{hi('rss_mb'):.1f}), "
          f"span {med('span_s'):.2f} s")


if __name__ == "__main__":
    main()
