"""``llm-twin collect`` / ``import-linkedin`` / ``authors`` / ``runs``: the collection capability."""

from __future__ import annotations

import argparse
from collections import Counter

from llm_twin.cli import render
from llm_twin.cli.session import local_session
from llm_twin.collection.events import CollectionRequest, RunOutcome, RunSummary
from llm_twin.collection.factory import collection_service
from llm_twin.collection.service import lambda_error_message
from llm_twin.crawling.linkedin import parse_linkedin_export
from llm_twin.errors import InvalidInputError
from llm_twin.local.workflows import run_workflow
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import new_run_id
from llm_twin.workflows.catalog import COLLECTION


def collect(settings: Settings, author: str, links: list[str]) -> RunSummary:
    """Run the collection workflow (the deployed ASL, the real handlers) against the local AWS that
    ``settings`` points at, and return its report (read from the warehouse: the execution's output
    holds the outcome only, as on AWS)."""
    request = CollectionRequest(author=author, links=links, run_id=new_run_id())
    execution = run_workflow(COLLECTION, request.model_dump(exclude_none=True), settings, name=request.run_id)
    if execution.status != "SUCCEEDED":
        reason = lambda_error_message(execution.cause)
        raise InvalidInputError(f"collection failed: {execution.error}: {reason}")
    run_id = RunOutcome.model_validate(execution.output).run_id
    summary = collection_service(settings).summary(run_id)
    if summary is None:  # Finalize stored it before returning: never happens
        raise InvalidInputError(f"collection run {run_id} is not in the warehouse")
    return summary


def cmd_collect(args: argparse.Namespace, settings: Settings) -> int:
    with local_session(settings, mutating=True) as local:
        summary = collect(local.settings, args.author, args.urls)
    if args.json:
        render.print_json(summary)
    else:
        print(render.run_summary(summary))
    return 0 if summary.status in ("succeeded", "partial") else 1


def cmd_import_linkedin(args: argparse.Namespace, settings: Settings) -> int:
    documents = parse_linkedin_export(args.file, args.author, max_document_bytes=settings.max_document_bytes)
    with local_session(settings, mutating=True) as local:
        outcomes = collection_service(local.settings).import_documents(args.author, documents)
    result = {"author": args.author, "documents": len(documents), **{k: outcomes[k] for k in _OUTCOMES}}
    if args.json:
        render.print_json(result)
    else:
        print(
            f"imported {len(documents)} LinkedIn documents for {args.author}: "
            + ", ".join(f"{outcomes[k]} {k}" for k in _OUTCOMES)
        )
    return 0


_OUTCOMES = ("new", "updated", "unchanged")


def cmd_authors(args: argparse.Namespace, settings: Settings) -> int:
    with local_session(settings, mutating=False) as local:
        warehouse = local.warehouse()
        rows = []
        for author in warehouse.list_authors():
            documents = warehouse.list_documents(author_id=author.author_id)
            by_platform = Counter(str(d.platform) for d in documents)
            rows.append({**author.model_dump(mode="json"), "documents": dict(sorted(by_platform.items()))})
    if args.json:
        render.print_json(rows)
        return 0
    table_rows = [
        (r["author_id"], r["full_name"], sum(r["documents"].values()), _fmt(r["documents"]), len(r["links"]))
        for r in rows
    ]
    print(render.table(table_rows, ["id", "name", "documents", "by platform", "links"]))
    return 0


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    with local_session(settings, mutating=False) as local:
        service = collection_service(local.settings)
        if args.run_id:
            summary = service.summary(args.run_id)
            if summary is None:
                raise InvalidInputError(f"no collection run {args.run_id!r}")
            render.print_json(summary) if args.json else print(render.run_summary(summary))
            return 0
        runs = local.warehouse().list_runs(limit=args.limit)
    if args.json:
        render.print_json(runs)
    else:
        rows = [(r.run_id, r.status, r.requested, r.started_at.isoformat(timespec="seconds")) for r in runs]
        print(render.table(rows, ["run", "status", "links", "started"]))
    return 0
