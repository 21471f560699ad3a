"""``llm-twin dataset build``: instruction and preference datasets from the warehouse.

Locally the generator is the local model (SmolLM2-135M, or the newest twin) behind the local LMI
server, or whatever ``LLM_TWIN_LLM`` names; datasets go to ``<home>/datasets`` unless ``--out`` gives a
folder or an ``s3://`` root. The training code is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llm_twin.cli.main import AddCommand
from llm_twin.errors import InvalidInputError, LlmTwinError
from llm_twin.settings import Settings


def _need_action(args: argparse.Namespace, settings: Settings) -> int:
    raise LlmTwinError("choose an action: llm-twin dataset build")


def _progress(done: int, total: int) -> None:
    print(f"\rgenerating {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from llm_twin.cli.session import local_session
    from llm_twin.llm.lmi import make_chat_model
    from llm_twin.local.llm import local_llm
    from training.datasets.build import build_datasets, config_from_args, load_documents, print_report

    config = config_from_args(args)
    root: str | Path = args.out if args.out is not None else settings.home / "datasets"
    with local_session(settings, mutating=False) as local:
        documents = load_documents(local.warehouse(), args.author)
    if not documents:
        raise InvalidInputError("the warehouse has no documents: run llm-twin collect first")
    with local_llm(settings) as llm_settings:
        report = build_datasets(
            documents,
            make_chat_model(llm_settings),
            root,
            config,
            progress=_progress if sys.stderr.isatty() and not args.json else None,
        )
    print_report(report, args.json)
    return 1 if report.skipped else 0


def register(add: AddCommand) -> None:
    """Add this module's commands to the ``llm-twin`` parser."""
    from training.datasets.build import add_build_arguments

    p = add("dataset", _need_action, "build instruction and preference datasets from the warehouse")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = sub.add_parser(
        "build",
        help="build the datasets (local model unless LLM_TWIN_LLM says otherwise)",
        description="Extracts of the author's documents → instructions by the LLM → instruct and "
        "preference datasets, versioned by content hash under --out (default <home>/datasets).",
    )
    add_build_arguments(build)
    build.add_argument("--out", help="dataset root: a folder or s3://bucket/prefix (default <home>/datasets)")
    build.set_defaults(run=cmd_build)
