"""``llm-twin train sft|dpo``: fine-tuning locally on CPU or as a SageMaker training job.

Locally the run record goes to ``<home>/training/runs/<run_id>/`` and the merged model is published to
``<home>/models/twin/<run_id>/`` (what ``llm-twin ask`` and the local LMI server then serve). Defaults:
dataset ``<home>/datasets/instruct|preference/LATEST``; base SmolLM2-135M-Instruct for SFT, the newest
SFT run's merged model for DPO. ``--tiny`` trains the tiny random model instead (seconds; never
published). ``--sagemaker`` launches the same entry point as a SageMaker training job.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from llm_twin.cli.main import AddCommand
from llm_twin.errors import InvalidInputError, LlmTwinError
from llm_twin.settings import Settings

DATASET_KINDS = {"sft": "instruct", "dpo": "preference"}


def register(add: AddCommand) -> None:
    """Add this module's commands to the ``llm-twin`` parser."""
    p = add("train", cmd_train, "fine-tune the twin: SFT (LoRA) then DPO, locally on CPU or on SageMaker")
    p.add_argument(
        "kind", choices=["sft", "dpo"], help="sft: instruction tuning; dpo: preferences (after sft)"
    )
    p.add_argument(
        "--dataset",
        metavar="DIR",
        help="dataset version folder, or its <root>/<kind> folder holding LATEST "
        "(default: <home>/datasets/instruct|preference)",
    )
    p.add_argument(
        "--base",
        metavar="PATH",
        help="model folder or Hub id to fine-tune (default: SmolLM2-135M-Instruct for sft, "
        "the newest sft run for dpo)",
    )
    p.add_argument("--max-steps", type=int, metavar="N", help="stop after N optimizer steps")
    p.add_argument("--config", type=Path, metavar="FILE", help="JSON hyperparameters applied over the preset")
    p.add_argument(
        "--tiny",
        action="store_true",
        help="a tiny random model with the SmolLM2 tokenizer: the whole path in seconds (output is noise; "
        "not published)",
    )
    p.add_argument("--sagemaker", action="store_true", help="launch a SageMaker training job instead")
    p.add_argument("--json", action="store_true", help="print the run result (or job name) as JSON")


def runs_dir(home: Path) -> Path:
    return home / "training" / "runs"


def newest_sft_run(home: Path, *, tiny: bool) -> Path | None:
    """The merged model of the newest finished SFT run (on the tiny model or not)."""
    from training.finetune.run import CONFIG_FILE, RESULT_FILE
    from training.finetune.tiny import tiny_model_dir

    tiny_dir = str(tiny_model_dir(home).resolve())
    root = runs_dir(home)
    candidates = sorted(root.glob("sft-*"), reverse=True) if root.is_dir() else []
    for run in candidates:
        result_path, config_path = run / RESULT_FILE, run / CONFIG_FILE
        if not (result_path.is_file() and config_path.is_file()):
            continue
        base = json.loads(config_path.read_text(encoding="utf-8")).get("base_model", "")
        if (str(Path(base).resolve()) == tiny_dir) != tiny:
            continue
        merged = Path(json.loads(result_path.read_text(encoding="utf-8"))["merged_dir"])
        if (merged / "config.json").is_file():
            return merged
    return None


def _default_base(kind: str, home: Path, tiny: bool) -> str:
    from llm_twin.llm.local_model import ensure_base_model
    from training.finetune.tiny import build_tiny_model, tiny_model_dir

    if kind == "sft":
        base = ensure_base_model(home)
        return str(build_tiny_model(base, tiny_model_dir(home)) if tiny else base)
    merged = newest_sft_run(home, tiny=tiny)
    if merged is None:
        which = "llm-twin train sft --tiny" if tiny else "llm-twin train sft"
        raise InvalidInputError(
            f"no finished SFT run under {runs_dir(home)}: run `{which}` first or pass --base"
        )
    return str(merged)


def _default_dataset(kind: str, home: Path) -> str:
    from training.finetune.data import resolve_dataset_dir

    dataset_kind = DATASET_KINDS[kind]
    folder = home / "datasets" / dataset_kind
    if not folder.is_dir():
        raise InvalidInputError(
            f"no {dataset_kind} dataset under {folder}: run `llm-twin dataset build --kind {dataset_kind}` "
            "or pass --dataset DIR"
        )
    return str(resolve_dataset_dir(folder))


def _values(args: argparse.Namespace, profile: str) -> dict[str, Any]:
    from training.finetune.presets import preset

    values = preset(args.kind, profile)  # type: ignore[arg-type]
    if args.config is not None:
        try:
            overrides = json.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read --config {args.config}: {exc}") from None
        if not isinstance(overrides, dict):
            raise InvalidInputError(f"--config {args.config} must hold a JSON object")
        lora = {**values["lora"], **overrides.pop("lora", {})}
        values.update(overrides, lora=lora)
    if args.max_steps is not None:
        values["max_steps"] = args.max_steps
    return values


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from training.finetune.config import parse_config

    if args.sagemaker:
        return _launch(args, settings)
    from training.finetune.run import new_run_id

    home = settings.home
    values = _values(args, "tiny" if args.tiny else "local")
    run_id = new_run_id(args.kind)
    dataset = args.dataset or _default_dataset(args.kind, home)  # before the base: it may convert the GGUF
    values.update(
        run_id=run_id,
        base_model=args.base or values.get("base_model") or _default_base(args.kind, home, args.tiny),
        dataset_dir=dataset,
        output_dir=str(runs_dir(home) / run_id),
    )
    if not args.tiny:
        values["publish_dir"] = str(home / "models" / "twin" / run_id)
    config = parse_config(args.kind, values)
    if args.kind == "sft":
        from training.finetune.sft import train_sft

        result = train_sft(config)  # type: ignore[arg-type]
    else:
        from training.finetune.dpo import train_dpo

        result = train_dpo(config)  # type: ignore[arg-type]
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    loss = (
        f"loss {result.loss_first:.4f} → {result.loss_last:.4f}"
        if result.loss_first is not None and result.loss_last is not None
        else "no loss logged"
    )
    print(
        f"{result.kind} run {result.run_id}: {result.steps} steps on {result.train_rows} rows, {loss}, "
        f"{result.seconds_per_step} s/step, peak RSS {result.peak_rss_mb:.0f} MB, {result.seconds:.0f} s"
    )
    print(f"  record   {result.output_dir}")
    print(f"  adapter  {result.adapter_dir}")
    print(f"  merged   {result.merged_dir}")
    if result.published_dir:
        print(f"  serving  {result.published_dir}  (llm-twin ask / the local LMI server use it)")
    return 0


def _launch(args: argparse.Namespace, settings: Settings) -> int:
    from training.finetune.config import parse_config
    from training.finetune.presets import SAGEMAKER_BASE_MODEL

    if args.tiny:
        raise InvalidInputError("--tiny is a local smoke run; it cannot be combined with --sagemaker")
    values = _values(args, "sagemaker")
    base = args.base or values.get("base_model")
    if args.kind == "sft":
        base = base or SAGEMAKER_BASE_MODEL
    elif not base:
        raise InvalidInputError(
            "dpo --sagemaker needs --base: the SFT job's model output (s3://.../output/model/)"
        )
    values.update(
        base_model=base,
        dataset_dir=args.dataset or _default_dataset(args.kind, settings.home),
        output_dir="/opt/ml/output/data",  # where the job writes its record (never sent: SM_* decide)
    )
    config = parse_config(args.kind, values)
    try:
        from training.sagemaker.launcher import launch_training  # type: ignore[import-not-found]
    except ImportError as exc:
        raise LlmTwinError(f"the SageMaker launcher is not available: {exc}") from None
    job_name = launch_training(args.kind, config, settings)
    if args.json:
        print(json.dumps({"job_name": job_name, "kind": args.kind, "config": config.model_dump(mode="json")}))
    else:
        print(f"launched SageMaker training job {job_name} ({args.kind}, base {config.base_model})")
    return 0
