"""``python -m training.evaluate``: the training workflow's Evaluate step (docs/training.md).

    python -m training.evaluate --model DPO_DIR --sft-model SFT_DIR --dataset INSTRUCT_VERSION_DIR
        --output OUT_DIR --base-model HUB_ID_OR_DIR [--model-package-group GROUP] [--current-model DIR]
        [--limit N] [--max-new-tokens N] [--gate JSON]

Evaluates base, SFT, DPO (and the currently approved model of ``--model-package-group`` when it can be
read, or ``--current-model``) on the instruct version's ``test.jsonl``, judges with
``LLM_TWIN_LLM``'s model (``bedrock``: ``LLM_TWIN_BEDROCK_CHAT_MODEL_ID``; otherwise the local base
SmolLM2, a weak judge), gates DPO against the current model (else the base) and writes
``<output>/evaluation.json`` (+ report.md, samples.jsonl, PNG plots). Exit 0 whenever the evaluation
worked, ``passed: false`` included; 2 on bad input (no dataset, bad gate config), 1 on other errors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_twin.errors import InvalidInputError, LlmTwinError

log = logging.getLogger("training.evaluate")

LIMIT_ENV = "LLM_TWIN_EVAL_LIMIT"
PROCESSING_VOLUME = "/opt/ml/processing"
# Retrieval quality is a property of the feature index (chunking, embedder, search), not of the model
# being gated: the same for base, SFT and DPO, so it cannot change the decision. The job does not reach
# the index (docs/training.md, "Evaluation": why, and where it is measured).
RETRIEVAL_SKIPPED_AWS = (
    "not measured by the training evaluation: retrieval depends on the feature index, not on the model "
    "being gated, and no vector index is reachable from the evaluation job (measured by "
    "llm-twin evaluate --retrieval on an index)"
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="the candidate (DPO merged) model folder")
    p.add_argument("--sft-model", help="the SFT merged model folder")
    p.add_argument("--base-model", help="the base model (Hub id or folder)")
    p.add_argument("--current-model", help="the currently approved model (folder), if known")
    p.add_argument("--model-package-group", help="read the newest Approved model package of this group")
    p.add_argument("--dataset", required=True, type=Path, help="instruct version folder (or <root>/instruct)")
    p.add_argument("--output", required=True, type=Path, help="where evaluation.json and the report go")
    p.add_argument("--limit", type=int, default=int(os.environ.get(LIMIT_ENV) or 0) or None)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--gate", help="gate config JSON (default: $LLM_TWIN_EVAL_GATE or the defaults)")
    return p


def dataset_info(folder: Path, test_rows: int, evaluated: int) -> dict[str, Any]:
    version = folder.name
    card = folder / "card.json"
    if card.is_file():
        with contextlib.suppress(ValueError):
            version = json.loads(card.read_text(encoding="utf-8")).get("version") or version
    return {"path": str(folder), "version": version, "test_rows": test_rows, "evaluated_rows": evaluated}


def load_test_rows(dataset: Path) -> tuple[Path, list[Any]]:
    from training.datasets.schema import InstructionSample
    from training.finetune.data import read_rows, resolve_dataset_dir

    folder = resolve_dataset_dir(dataset)
    return folder, read_rows(folder, "test", InstructionSample)


def approved_model_uri(group: str, client: Any) -> str | None:
    """The model data S3 prefix of the newest Approved package of ``group`` (None when there is none)."""
    listing = client.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    packages = listing.get("ModelPackageSummaryList") or []
    if not packages:
        return None
    described = client.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    container = described["InferenceSpecification"]["Containers"][0]
    source = container.get("ModelDataSource", {}).get("S3DataSource", {}).get("S3Uri")
    return source or container.get("ModelDataUrl")


def download_prefix(uri: str, target: Path, client: Any) -> Path:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :].lstrip("/")
            if not relative or relative.endswith("/"):
                continue
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, item["Key"], str(path))
    return target


def current_from_registry(group: str, scratch: Path, settings: Any) -> tuple[Path | None, str]:
    """Download the currently approved model; (None, why) when it cannot be (no package, no permission).

    The execution role may ListModelPackages and DescribeModelPackage on the group's versions and read
    ``models/`` of the artifacts bucket, where every registered package's model data lies."""
    try:
        from llm_twin.local.clients import aws_client

        uri = approved_model_uri(group, aws_client("sagemaker", settings))
        if uri is None:
            return None, f"no approved model package in {group}: compared with the base model"
        if not uri.startswith("s3://") or uri.endswith(".tar.gz"):
            return None, f"approved model data {uri} is not an uncompressed S3 prefix: compared with base"
        return download_prefix(uri, scratch / "current", aws_client("s3", settings)), f"current model: {uri}"
    except Exception as exc:  # no permission / no network: evaluate without it, say so
        return None, f"current model of {group} unknown ({type(exc).__name__}: {exc}): compared with base"


def scratch_parent() -> str | None:
    """Where the current model is downloaded: the processing job's ML storage volume (sized by the
    workflow's evaluation ``VolumeSizeInGB``) rather than the container's root file system; locally the
    system temporary folder."""
    return PROCESSING_VOLUME if Path(PROCESSING_VOLUME).is_dir() else None


def default_judge(settings: Any) -> Any:
    from training.evaluate.judge import Judge

    if settings.llm == "bedrock":
        from llm_twin.llm.bedrock import BedrockChatModel

        return Judge(BedrockChatModel(settings), weak=False)
    from llm_twin.llm.local_model import LocalChatModel, ensure_base_model

    return Judge(LocalChatModel(settings, ensure_base_model(settings.home)), weak=True, max_new_tokens=96)


def main(
    argv: Sequence[str] | None = None,
    *,
    judge: Any = None,
    embedder: Any = "default",
    settings: Any = None,
) -> int:
    """Run the Evaluate step; ``judge``/``embedder``/``settings`` are injectable for tests."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return _run(args, judge=judge, embedder=embedder, settings=settings)
    except InvalidInputError as exc:
        log.error("evaluation input error: %s", exc)
        return 2
    except (LlmTwinError, OSError, ValueError) as exc:
        log.error("evaluation failed: %s", exc)
        return 1


def _run(args: argparse.Namespace, *, judge: Any, embedder: Any, settings: Any) -> int:
    from training.evaluate.gate import gate_config_from_env, parse_gate_config
    from training.evaluate.run import (
        EvalConfig,
        ModelSpec,
        build_evaluation,
        chat_model_for,
        evaluate,
        gate_results,
        local_embedder,
        write_outputs,
    )

    gate = parse_gate_config(args.gate) if args.gate else gate_config_from_env()
    config = EvalConfig(limit=args.limit, max_new_tokens=args.max_new_tokens, candidate="dpo", gate=gate)
    folder, rows = load_test_rows(args.dataset)
    if settings is None:
        from llm_twin.settings import get_settings

        settings = get_settings()
    notes: list[str] = []
    if embedder == "default":
        embedder, why = local_embedder()
        if why:
            notes.append(why)
    if judge is None:
        judge = default_judge(settings)
    with tempfile.TemporaryDirectory(prefix="llm-twin-eval-", dir=scratch_parent()) as scratch:
        current = Path(args.current_model) if args.current_model else None
        if current is None and args.model_package_group:
            current, note = current_from_registry(args.model_package_group, Path(scratch), settings)
            notes.append(note)
        sources = [
            ("base", args.base_model),
            ("current", current),
            ("sft", args.sft_model),
            ("dpo", args.model),
        ]
        specs = [
            ModelSpec(name, str(source), (lambda s=str(source): chat_model_for(s, settings)))
            for name, source in sources
            if source
        ]
        if not args.base_model and current is None:
            notes.append("no base and no current model given: the gate has no reference")
        results = evaluate(specs, rows, judge, embedder, config)
    decision = gate_results(results, config)
    evaluation = build_evaluation(
        results,
        decision,
        config,
        judge=judge,
        dataset=dataset_info(folder, len(rows), results[0].metrics["rows"]),
        retrieval={"skipped": RETRIEVAL_SKIPPED_AWS},
        notes=notes,
    )
    write_outputs(evaluation, results, args.output)
    log.info("evaluation written to %s: passed=%s (%s)", args.output, decision.passed, decision.reason)
    print(json.dumps({"passed": decision.passed, "reason": decision.reason}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
