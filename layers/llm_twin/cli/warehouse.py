"""``llm-twin warehouse export PATH`` / ``import PATH``: JSONL backup and transfer."""

from __future__ import annotations

import argparse
from pathlib import Path

from llm_twin.cli.session import local_session
from llm_twin.settings import Settings
from llm_twin.warehouse.transfer import export_jsonl, import_jsonl


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    with local_session(settings, mutating=False) as local:
        count = export_jsonl(local.warehouse(), Path(args.path))
    print(f"exported {count} items to {args.path}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    with local_session(settings, mutating=True) as local:
        count = import_jsonl(local.warehouse(), Path(args.path))
    print(f"imported {count} items from {args.path}")
    return 0
