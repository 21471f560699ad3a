"""``llm-twin evaluate``: base vs SFT vs DPO side by side on the instruct test split, with the gate.

Defaults: the base SmolLM2-135M-Instruct (``--tiny``: the tiny random model), the newest finished SFT
run under ``<home>/training/runs`` and the newest DPO run trained on that SFT's merged model; the test
split of ``<home>/datasets/instruct/LATEST``. ``--model DIR`` (repeatable) evaluates those folders
instead (after the base; the last one is the candidate). The judge is ``LLM_TWIN_LLM``'s Bedrock model
or the local base SmolLM2 (a weak judge). The report (evaluation.json, report.md, samples.jsonl, PNGs)
goes next to the candidate's run (``<run>/evaluation/``) unless ``--output`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llm_twin.cli.main import AddCommand
from llm_twin.errors import InvalidInputError
from llm_twin.settings import Settings


def _progress(what: str, done: int, total: int) -> None:
    print(f"\r{what} {done}/{total}   ", end="" if done < total else "\n", file=sys.stderr, flush=True)


def newest_dpo_run(home: Path, sft_merged: Path | None) -> Path | None:
    """The merged model of the newest finished DPO run trained on ``sft_merged``."""
    from llm_twin.cli.train import runs_dir
    from training.finetune.run import CONFIG_FILE, RESULT_FILE

    root = runs_dir(home)
    if sft_merged is None or not root.is_dir():
        return None
    wanted = str(sft_merged.resolve())
    for run in sorted(root.glob("dpo-*"), reverse=True):
        result_path, config_path = run / RESULT_FILE, run / CONFIG_FILE
        if not (result_path.is_file() and config_path.is_file()):
            continue
        base = json.loads(config_path.read_text(encoding="utf-8")).get("base_model", "")
        if str(Path(base).resolve()) != wanted:
            continue
        merged = Path(json.loads(result_path.read_text(encoding="utf-8"))["merged_dir"])
        if (merged / "config.json").is_file():
            return merged
    return None


def _label(folder: Path, taken: set[str]) -> str:
    name = folder.parent.name if folder.name == "merged" else folder.name
    label, n = name, 2
    while label in taken:
        label, n = f"{name}-{n}", n + 1
    taken.add(label)
    return label


def _run_folder(model: Path) -> Path | None:
    """The run record folder of a merged model (``<run>/merged``), when it is one."""
    return model.parent if model.name == "merged" and (model.parent / "config.json").is_file() else None


def models_to_evaluate(args: argparse.Namespace, settings: Settings) -> tuple[list[tuple[str, Path]], str]:
    """[(name, folder)] in report order and the candidate's name."""
    from llm_twin.cli.train import newest_sft_run
    from llm_twin.llm.local_model import ensure_base_model
    from training.finetune.tiny import build_tiny_model, tiny_model_dir

    base = ensure_base_model(settings.home)
    if args.tiny:
        base = build_tiny_model(base, tiny_model_dir(settings.home))
    models: list[tuple[str, Path]] = [("base", base)]
    if args.current is not None:
        models.append(("current", args.current))
    if args.model:
        taken = {"base", "current"}
        models += [(_label(folder, taken), folder) for folder in args.model]
        return models, models[-1][0]
    sft = newest_sft_run(settings.home, tiny=args.tiny)
    if sft is None:
        which = "llm-twin train sft --tiny" if args.tiny else "llm-twin train sft"
        raise InvalidInputError(
            f"no finished SFT run under {settings.home}: run `{which}` or pass --model DIR"
        )
    models.append(("sft", sft))
    dpo = newest_dpo_run(settings.home, sft)
    if dpo is not None:
        models.append(("dpo", dpo))
    return models, models[-1][0]


def _retrieval(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    if not args.retrieval:
        return {"skipped": "not requested (llm-twin evaluate --retrieval measures the local index)"}
    from llm_twin.cli.session import local_session
    from llm_twin.features.factory import build_feature_service
    from llm_twin.ids import author_id
    from training.evaluate.retrieval import load_questions, retrieval_metrics, service_search

    questions = load_questions(args.questions)
    author = author_id(args.author) if args.author else None
    with local_session(settings, mutating=False) as local:
        service = build_feature_service(local.settings)
        return retrieval_metrics(service_search(service), questions, author_id=author, k=args.k)


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from training.evaluate.__main__ import dataset_info, default_judge, load_test_rows
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

    dataset = args.dataset if args.dataset is not None else settings.home / "datasets" / "instruct"
    if not dataset.exists():
        raise InvalidInputError(
            f"no instruct dataset at {dataset}: run `llm-twin dataset build --kind instruct` "
            "or pass --dataset"
        )
    folder, rows = load_test_rows(dataset)
    models, candidate = models_to_evaluate(args, settings)
    gate = parse_gate_config(args.gate) if args.gate else gate_config_from_env()
    config = EvalConfig(limit=args.limit, max_new_tokens=args.max_new_tokens, candidate=candidate, gate=gate)
    notes: list[str] = []
    embedder, why = local_embedder()
    if why:
        notes.append(why)
    judge = None if args.no_judge else default_judge(settings)
    if judge is None:
        notes.append("judge skipped (--no-judge): judge metrics not measured, the gate cannot pass")
    specs = [
        ModelSpec(name, str(path), (lambda p=path: chat_model_for(p, settings))) for name, path in models
    ]
    show = sys.stderr.isatty() and not args.json
    results = evaluate(specs, rows, judge, embedder, config, progress=_progress if show else None)
    decision = gate_results(results, config)
    retrieval = _retrieval(args, settings)
    evaluation = build_evaluation(
        results,
        decision,
        config,
        judge=judge,
        dataset=dataset_info(folder, len(rows), results[0].metrics["rows"]),
        retrieval=retrieval,
        notes=notes,
        run=None,
    )
    output = args.output
    if output is None:
        run = _run_folder(models[-1][1])
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        output = run / "evaluation" if run else settings.home / "training" / "evaluations" / stamp
    write_outputs(evaluation, results, output)
    if args.json:
        print(json.dumps({**evaluation, "output": str(output)}, indent=2, default=str))
        return 0
    print(f"{'passed' if decision.passed else 'not passed'}: {decision.reason}")
    for name, metrics in evaluation["metrics"].items():
        print(
            f"  {name:<10} accuracy {metrics['judge_accuracy']}  style {metrics['judge_style']}  "
            f"similarity {metrics['style_similarity']}  stylometry {metrics['stylometry_distance']}  "
            f"judged {metrics['judged']}/{metrics['rows']}"
        )
    if not retrieval.get("skipped"):
        k = retrieval["k"]
        print(
            f"  retrieval: hit@1 {retrieval['hit_at_1']}  hit@{k} {retrieval[f'hit_at_{k}']}  "
            f"MRR {retrieval['mrr']}  author-filter precision {retrieval['author_filter_precision']}"
        )
    print(f"report: {output / 'report.md'}")
    return 0


def register(add: AddCommand) -> None:
    """Add ``llm-twin evaluate`` to the ``llm-twin`` parser."""
    p = add("evaluate", cmd_evaluate, "compare base vs SFT vs DPO on the held-out test split and gate")
    p.add_argument("--model", type=Path, action="append", help="model folder to evaluate (repeatable)")
    p.add_argument("--current", type=Path, help="the currently approved model folder (the gate's reference)")
    p.add_argument("--dataset", type=Path, help="instruct version folder or <root>/instruct (LATEST)")
    p.add_argument("--limit", type=int, help="evaluate the first N test rows only")
    p.add_argument("--max-new-tokens", type=int, default=128, help="answer length (default 128)")
    p.add_argument("--tiny", action="store_true", help="the tiny random model and tiny runs")
    p.add_argument("--no-judge", action="store_true", help="skip the LLM judge (style measures only)")
    p.add_argument("--gate", help="gate config JSON (default: $LLM_TWIN_EVAL_GATE or the defaults)")
    p.add_argument("--retrieval", action="store_true", help="also measure retrieval on the local index")
    p.add_argument("--questions", type=Path, help="labeled questions JSONL (default: the sample author's)")
    p.add_argument("--author", default="Nell Harrowgate", help="author filter of the retrieval metrics")
    p.add_argument("-k", type=int, default=5, help="retrieval depth (hit@k)")
    p.add_argument("--output", type=Path, help="report folder (default: <candidate run>/evaluation)")
    p.add_argument("--json", action="store_true", help="print evaluation.json")
