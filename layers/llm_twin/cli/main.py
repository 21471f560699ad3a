"""Argument parsing and dispatch. Each command lives in a module of its capability."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from llm_twin.errors import LlmTwinError
from llm_twin.local.server import apply_environment
from llm_twin.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]
AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]


def _parser() -> argparse.ArgumentParser:
    from llm_twin.cli import (
        collect,
        dataset,
        demo,
        endpoint,
        evaluate,
        features,
        rag,
        train,
        warehouse,
    )

    parser = argparse.ArgumentParser(
        prog="llm-twin", description="An LLM twin: collect, index, train, serve."
    )
    parser.add_argument(
        "--home", type=Path, help="local state folder (default: $LLM_TWIN_HOME or ./.llm-twin)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the handlers do")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, command: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(run=command)
        return p

    p = add("demo", demo.cmd_demo, "end-to-end on a sample author served on 127.0.0.1")
    p.add_argument(
        "--train",
        action="store_true",
        help="then build datasets, fine-tune SmolLM2 (SFT, DPO), ask the fine-tuned twin (minutes on CPU)",
    )
    p.add_argument("--train-steps", type=int, default=4, metavar="N", help="steps of SFT and of DPO (4)")
    p.add_argument("--train-limit", type=int, default=6, metavar="N", help="extracts per dataset (6)")
    p = add("collect", collect.cmd_collect, "run the collection workflow for an author's links")
    p.add_argument("--author", required=True, help='the author\'s full name, e.g. "Maya Lindqvist"')
    p.add_argument("urls", nargs="+", metavar="URL")
    p.add_argument("--json", action="store_true", help="print the per-link report as JSON")

    p = add("import-linkedin", collect.cmd_import_linkedin, "import LinkedIn's official data-export zip")
    p.add_argument("--author", required=True)
    p.add_argument("file", type=Path, metavar="FILE.zip")
    p.add_argument("--json", action="store_true")

    p = add("authors", collect.cmd_authors, "list authors, their links and documents")
    p.add_argument("--json", action="store_true")

    p = add("runs", collect.cmd_runs, "list collection runs, or show one run's per-link report")
    p.add_argument("run_id", nargs="?")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    p = add("features", features.cmd_features, "apply pending warehouse changes to the vector index")
    p.add_argument(
        "--rebuild", action="store_true", help="re-embed everything into a fresh index, then switch"
    )

    p = add("search", features.cmd_search, "retrieval only: the best chunks for a query")
    p.add_argument("query")
    p.add_argument("--author", help="only this author's writing (full name)")
    p.add_argument("-k", type=int, default=5, help="how many chunks (default 5)")
    p.add_argument("--json", action="store_true")

    p = add("ask", rag.cmd_ask, "ask the twin: a RAG answer with sources")
    p.add_argument("question")
    p.add_argument("--author", help="only this author's writing (full name)")
    p.add_argument("-k", type=int, default=5, help="chunks in the prompt (default 5)")
    p.add_argument("--no-expand", action="store_true", help="skip LLM query expansion (faster)")
    p.add_argument("--json", action="store_true", help='print {"answer", "sources": [...]}')

    p = add("generate", rag.cmd_generate, "draft a LinkedIn post or an article in the author's voice")
    p.add_argument("prompt")
    p.add_argument("--kind", choices=["linkedin_post", "article"], default="linkedin_post")
    p.add_argument("--link", help="an external resource to draw on (fetched through the SSRF guard)")
    p.add_argument("--author", help="the author's full name")
    p.add_argument("--json", action="store_true")

    p = add("serve", rag.cmd_serve, "the local API and web page on 127.0.0.1")
    p.add_argument("--port", type=int, default=8000)

    p = add("traces", rag.cmd_traces, "recent prompt traces (query, filters, stages, latency)")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true")

    p = add("warehouse", _need_action, "export or import the warehouse as JSONL")
    wsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, command in (("export", warehouse.cmd_export), ("import", warehouse.cmd_import)):
        w = wsub.add_parser(action, help=f"{action} the warehouse (JSONL)")
        w.add_argument("path", type=Path, metavar="PATH")
        w.set_defaults(run=command)
    dataset.register(add)
    train.register(add)
    endpoint.register(add)
    evaluate.register(add)
    return parser


def _need_action(args: argparse.Namespace, settings: Settings) -> int:
    raise LlmTwinError("choose an action")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    # Locally there is no CloudWatch agent or X-Ray daemon: keep EMF blobs and traces out of stdout.
    defaults = {
        "POWERTOOLS_LOG_LEVEL": "INFO" if args.verbose else "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    saved = apply_environment({k: v for k, v in defaults.items() if k not in os.environ})
    try:
        settings = Settings(home=args.home) if args.home else Settings()
        return int(args.run(args, settings))
    except (LlmTwinError, ValidationError, FileNotFoundError) as exc:
        print(f"llm-twin: error: {exc}", file=sys.stderr)
        return 2
    finally:
        apply_environment(saved)


if __name__ == "__main__":
    raise SystemExit(main())
