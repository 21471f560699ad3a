"""``llm-twin train sft|dpo``: fine-tuning locally on CPU or as a SageMaker training job.

Locally the run record goes to ``<home>/training/runs/<run_id>/`` and the merged model is published to
``<home>/models/twin/<run_id>/`` (what ``llm-twin ask`` and the local LMI server then serve). Defaults:
dataset ``<home>/datasets/instruct|preference/LATEST``; base SmolLM2-135M-Instruct for SFT, the newest
SFT run's merged model for DPO. ``--tiny`` trains the tiny random model instead (seconds; never
published). ``--sagemaker`` launches the same entry point as a SageMaker training job.

On demand, the whole pipeline: ``llm-twin train all`` builds both datasets from the local warehouse (as
``llm-twin dataset build --kind all`` does), then SFT, then DPO on that SFT run, in the foreground;
``llm-twin train workflow [--wait]`` starts the training workflow on AWS (Step Functions
``LLM_TWIN_TRAINING_STATE_MACHINE_ARN``) and optionally polls it until it ends.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from llm_twin.cli.main import AddCommand
from llm_twin.errors import InvalidInputError, LlmTwinError
from llm_twin.settings import Settings

DATASET_KINDS = {"sft": "instruct", "dpo": "preference"}
POLL_SECONDS = 30.0  # train workflow --wait: the workflow's steps are SageMaker jobs of minutes to hours


def register(add: AddCommand) -> None:
    """Add this module's commands to the ``llm-twin`` parser."""
    p = add("train", cmd_train, "fine-tune the twin: SFT (LoRA) then DPO, locally on CPU or on SageMaker")
    p.add_argument(
        "kind",
        choices=["sft", "dpo", "all", "workflow"],
        help="sft: instruction tuning; dpo: preferences (after sft); all: build both datasets, then sft, "
        "then dpo, locally; workflow: start the training workflow on AWS",
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
    p.add_argument(
        "--limit", type=int, metavar="N", help="all: at most N extracts go to the LLM for the datasets"
    )
    p.add_argument("--wait", action="store_true", help="workflow: poll until the execution ends")
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


def _values(args: argparse.Namespace, profile: str, kind: str | None = None) -> dict[str, Any]:
    from training.finetune.presets import preset

    values = preset(kind or args.kind, profile)  # type: ignore[arg-type]
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


ONLY_FOR = {"limit": "all", "wait": "workflow"}
NOT_FOR = {
    "all": ("dataset", "base", "config", "sagemaker"),
    "workflow": ("dataset", "base", "config", "sagemaker", "tiny", "max_steps"),
}


def _given(args: argparse.Namespace, option: str) -> bool:
    value = getattr(args, option)
    return value is not None and value is not False


def _check_options(args: argparse.Namespace) -> None:
    for option, kind in ONLY_FOR.items():
        if _given(args, option) and args.kind != kind:
            raise InvalidInputError(f"--{option} applies to `llm-twin train {kind}` only")
    for option in NOT_FOR.get(args.kind, ()):
        if _given(args, option):
            flag = "--" + option.replace("_", "-")
            raise InvalidInputError(f"{flag} cannot be combined with `llm-twin train {args.kind}`")


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    _check_options(args)
    if args.kind == "all":
        return _train_all(args, settings)
    if args.kind == "workflow":
        return _start_workflow(args, settings)
    if args.sagemaker:
        return _launch(args, settings)
    result = train_local(args.kind, args, settings)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        _print_result(result)
    return 0


def train_local(
    kind: str,
    args: argparse.Namespace,
    settings: Settings,
    *,
    dataset: str | None = None,
    base: str | None = None,
) -> Any:
    """One local run (``RunResult``): the given dataset/base, else the command's options, else defaults."""
    from training.finetune.config import parse_config
    from training.finetune.run import new_run_id

    home = settings.home
    values = _values(args, "tiny" if args.tiny else "local", kind)
    run_id = new_run_id(kind)
    # the dataset before the base: resolving the base may convert the GGUF
    dataset = dataset or args.dataset or _default_dataset(kind, home)
    values.update(
        run_id=run_id,
        base_model=base or args.base or values.get("base_model") or _default_base(kind, home, args.tiny),
        dataset_dir=dataset,
        output_dir=str(runs_dir(home) / run_id),
    )
    if not args.tiny:
        values["publish_dir"] = str(home / "models" / "twin" / run_id)
    config = parse_config(kind, values)
    if kind == "sft":
        from training.finetune.sft import train_sft

        return train_sft(config)  # type: ignore[arg-type]
    from training.finetune.dpo import train_dpo

    return train_dpo(config)  # type: ignore[arg-type]


def _print_result(result: Any) -> None:
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


# --- on demand: the whole pipeline locally, or the workflow on AWS ----------------------------------


def _progress(done: int, total: int) -> None:
    print(f"\rgenerating {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def build_local_datasets(settings: Settings, limit: int | None, *, progress: bool = False) -> Any:
    """Both datasets under ``<home>/datasets`` from the local warehouse, with ``llm-twin dataset build``'s
    defaults (``BuildReport``)."""
    from llm_twin.cli.session import local_session
    from llm_twin.llm.lmi import make_chat_model
    from llm_twin.local.llm import local_llm
    from training.datasets.build import add_build_arguments, build_datasets, config_from_args, load_documents

    parser = argparse.ArgumentParser(add_help=False)
    add_build_arguments(parser)
    config = config_from_args(
        parser.parse_args(["--kind", "all", *(["--limit", str(limit)] if limit is not None else [])])
    )
    with local_session(settings, mutating=False) as local:
        documents = load_documents(local.warehouse())
    if not documents:
        raise InvalidInputError("the warehouse has no documents: run llm-twin collect first")
    with local_llm(settings) as llm_settings:
        return build_datasets(
            documents,
            make_chat_model(llm_settings),
            settings.home / "datasets",
            config,
            progress=_progress if progress else None,
        )


def _train_all(args: argparse.Namespace, settings: Settings) -> int:
    from training.datasets.build import print_report

    report = build_local_datasets(settings, args.limit, progress=sys.stderr.isatty() and not args.json)
    if not args.json:
        print_report(report, False)
    if report.skipped:
        reasons = "; ".join(f"{kind}: {reason}" for kind, reason in sorted(report.skipped.items()))
        raise LlmTwinError(f"no dataset to train on ({reasons})")
    sft = train_local("sft", args, settings, dataset=report.versions["instruct"].uri)
    if not args.json:
        _print_result(sft)
    dpo = train_local("dpo", args, settings, dataset=report.versions["preference"].uri, base=sft.merged_dir)
    if args.json:
        summary = {
            "datasets": report.summary(),
            "sft": sft.model_dump(mode="json"),
            "dpo": dpo.model_dump(mode="json"),
        }
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_result(dpo)
    return 0


def _start_workflow(args: argparse.Namespace, settings: Settings) -> int:
    from llm_twin.api.training_starter import StepFunctionsTrainingStarter

    if not settings.training_state_machine_arn:
        raise InvalidInputError(
            "LLM_TWIN_TRAINING_STATE_MACHINE_ARN is not set (the training stack's TrainingStateMachineArn "
            "output); to train locally run `llm-twin train all`"
        )
    starter = StepFunctionsTrainingStarter(settings)
    execution = starter.start(source="cli")
    if not args.json:
        print(f"started training workflow execution {execution.execution_id}")
        print(f"  {starter.execution_arn(execution.execution_id)}")
    while args.wait and not execution.ended:
        time.sleep(POLL_SECONDS)
        described = starter.describe(execution.execution_id)
        if described is None:
            raise LlmTwinError(f"execution {execution.execution_id} disappeared")
        if described.status != execution.status and not args.json:
            print(f"  {described.status}", file=sys.stderr)
        execution = described
    if args.json:
        print(execution.model_dump_json(indent=2))
    elif args.wait:
        print(f"training workflow execution {execution.execution_id}: {execution.status}")
        if execution.error or execution.cause:
            print(f"  {execution.error}: {execution.cause}")
    return 0 if not args.wait or execution.status == "SUCCEEDED" else 1


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
