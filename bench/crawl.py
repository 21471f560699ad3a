"""Crawl throughput and peak memory of the collection workflow.

A loopback server serves N article pages; the collection workflow (the deployed ASL, run by the local
runner with the real handlers, moto's DynamoDB) crawls them all in one run, at MaxConcurrency 1 and 8.
Each configuration runs in its own process (clean peak RSS) and is repeated; medians are reported.

    python -m bench.crawl [--pages 200] [--repeats 3] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.report import write_section

PARAGRAPH = (
    "Retrieval quality is mostly a data problem. Before tuning the index, read the chunks you feed it, "
    "check that headings survived cleaning and that code blocks were not split mid-function. "
)


def page(number: int) -> bytes:
    body = "".join(f"<h2>Section {s}</h2><p>{PARAGRAPH * 6}</p><ul><li>point</li></ul>" for s in range(8))
    html = (
        f"<html><head><title>Benchmark article {number}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        f"<main><article><h1>Benchmark article {number}</h1>{body}"
        f"<pre><code class='language-python'>def f(x):\n    return x * {number}\n</code></pre>"
        f"</article></main><footer>Subscribe to the newsletter</footer></body></html>"
    )
    return html.encode()


class _Handler(BaseHTTPRequestHandler):
    latency_s = 0.0  # simulated network + server time per request

    def do_GET(self) -> None:
        time.sleep(self.latency_s)
        try:
            number = int(self.path.strip("/").split("-")[-1])
        except ValueError:
            self.send_error(404)
            return
        data = page(number)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


def run_once(pages: int, concurrency: int, latency_ms: int) -> dict[str, float]:
    """One measured run (inside a fresh process)."""
    import resource

    _Handler.latency_s = latency_ms / 1000
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    home = tempfile.mkdtemp(prefix="llm-twin-bench-")
    os.environ.update(
        {
            "LLM_TWIN_CRAWL_ALLOW_HOSTS": "127.0.0.1",
            "LLM_TWIN_CRAWL_MAX_CONCURRENCY": str(concurrency),
            "LLM_TWIN_HOME": home,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    from llm_twin.collection.events import CollectionRequest, RunOutcome
    from llm_twin.local.aws import LocalAws
    from llm_twin.local.workflows import run_workflow
    from llm_twin.settings import Settings
    from llm_twin.workflows.catalog import COLLECTION

    links = [f"{base}/article-{n}" for n in range(pages)]
    with LocalAws(Settings()) as local:
        request = CollectionRequest(author="Bench Author", links=links)
        began = time.perf_counter()
        execution = run_workflow(COLLECTION, request.model_dump(exclude_none=True), local.settings)
        elapsed = time.perf_counter() - began
    server.shutdown()
    summary = RunOutcome.model_validate(execution.output)
    assert summary.counts.get("ok") == pages, summary.counts
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": elapsed, "pages_per_s": pages / elapsed, "peak_rss_mb": peak_mb}


def measure(pages: int, concurrency: int, latency_ms: int, repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-m", "bench.crawl", "--child", str(pages), str(concurrency), str(latency_ms)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def report(pages: int, repeats: int, results: dict[tuple[int, int], dict[str, float]]) -> str:
    lines = [
        f"Collection workflow crawling {pages} article pages (~7 KB HTML each) from a loopback server; "
        f"median of {repeats} runs, each in a fresh process. Includes validate, per-link crawl + "
        "extraction + DynamoDB upsert (moto server) and finalize. The server answers at once (0 ms) or "
        "after a simulated 100 ms of network and server time, closer to real sites.",
        "",
        "| server latency | MaxConcurrency | wall time (s) | pages/s | peak RSS (MB) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for (latency, concurrency), r in results.items():
        lines.append(
            f"| {latency} ms | {concurrency} | {r['seconds']:.2f} | {r['pages_per_s']:.1f} "
            f"| {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(run_once(*(int(arg) for arg in sys.argv[2:]))))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", type=Path, help="replace the crawl section of this markdown file")
    args = parser.parse_args()
    results = {
        (latency, c): measure(args.pages, c, latency, args.repeats) for latency in (0, 100) for c in (1, 8)
    }
    text = report(args.pages, args.repeats, results)
    print(text)
    if args.write:
        write_section(args.write, "Crawl throughput", text, command="python -m bench.crawl")


if __name__ == "__main__":
    main()
