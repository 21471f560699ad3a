"""The SageMaker training job entry point shared by ``python -m training.finetune.sft|dpo``.

Inside a training job (``/opt/ml``):

- hyperparameters: ``/opt/ml/input/config/hyperparameters.json`` (every value a string), overridden by
  ``--key value`` arguments; parsed by :func:`training.finetune.config.parse_config`;
- ``train`` channel (``SM_CHANNEL_TRAIN``): the dataset version folder (train.jsonl, test.jsonl);
- ``model`` channel (``SM_CHANNEL_MODEL``), DPO (optional for SFT): the SFT job's model output — its
  ``merged/`` folder is the base (a ``model.tar.gz`` is unpacked first); without it SFT needs a
  ``base_model`` hyperparameter (a Hub id; gated models need ``HF_TOKEN`` in the job environment);
- ``SM_MODEL_DIR`` (``/opt/ml/model``) receives ``adapter/`` and ``merged/``; ``SM_OUTPUT_DATA_DIR``
  (``/opt/ml/output/data``) the run record; ``/opt/ml/checkpoints``, when the job has a checkpoint
  config (spot training), holds Trainer checkpoints and the run resumes from the newest;
- the run id is the training job name (``TRAINING_JOB_NAME``) unless a ``run_id`` is given;
- a configuration or dataset error is written to ``/opt/ml/output/failure`` (the job's FailureReason)
  and the process exits 2.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llm_twin.errors import InvalidInputError
from training.finetune.config import Kind, parse_cli_pairs, parse_config

log = logging.getLogger(__name__)

OPT_ML = Path("/opt/ml")
MERGED_DIR = "merged"


def _channel(environ: Mapping[str, str], root: Path, name: str) -> Path | None:
    value = environ.get(f"SM_CHANNEL_{name.upper()}")
    path = Path(value) if value else root / "input" / "data" / name
    return path if path.is_dir() else None


def resolve_model_channel(path: Path, scratch: Path | None = None) -> Path:
    """The model folder inside a model channel: ``merged/`` of a training job's output, the folder
    itself, or the same inside an (unpacked) ``model.tar.gz``."""
    for candidate in (path / MERGED_DIR, path):
        if (candidate / "config.json").is_file():
            return candidate
    archive = path / "model.tar.gz"
    if archive.is_file():
        target = Path(tempfile.mkdtemp(prefix="model-", dir=scratch))
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        return resolve_model_channel(target)
    raise InvalidInputError(f"model channel {path} holds no model (no config.json, merged/ or model.tar.gz)")


def job_values(kind: Kind, argv: Sequence[str], environ: Mapping[str, str], root: Path) -> dict[str, Any]:
    """Config values of a training job: locations from the SM_* environment, then hyperparameters.json,
    then command-line pairs (later wins)."""
    values: dict[str, Any] = {
        "output_dir": environ.get("SM_OUTPUT_DATA_DIR") or str(root / "output" / "data"),
        "model_dir": environ.get("SM_MODEL_DIR") or str(root / "model"),
    }
    train = _channel(environ, root, "train")
    if train is not None:
        values["dataset_dir"] = str(train)
    model = _channel(environ, root, "model")
    if model is not None:
        values["base_model"] = str(resolve_model_channel(model))
    checkpoints = root / "checkpoints"
    if checkpoints.is_dir():
        values["checkpoint_dir"] = str(checkpoints)
    if environ.get("TRAINING_JOB_NAME"):
        values["run_id"] = environ["TRAINING_JOB_NAME"]
    config_dir = Path(environ.get("SM_INPUT_CONFIG_DIR") or root / "input" / "config")
    hyperparameters = config_dir / "hyperparameters.json"
    if hyperparameters.is_file():
        data = json.loads(hyperparameters.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise InvalidInputError(f"{hyperparameters} must hold a JSON object")
        values.update(data)
    values.update(parse_cli_pairs(argv))
    return values


def run_job(
    kind: Kind, argv: Sequence[str], environ: Mapping[str, str] | None = None, root: Path = OPT_ML
) -> int:
    """Parse, train, print the result as one JSON line; 2 (and the failure file) on bad input."""
    from training.finetune.dpo import train_dpo
    from training.finetune.sft import train_sft

    environ = os.environ if environ is None else environ
    try:
        config = parse_config(kind, job_values(kind, argv, environ, root))
        result = train_sft(config) if kind == "sft" else train_dpo(config)  # type: ignore[arg-type]
    except InvalidInputError as exc:
        log.error("%s", exc)
        failure = root / "output" / "failure"
        if failure.parent.is_dir():
            failure.write_text(str(exc)[:1000], encoding="utf-8")
        return 2
    print(result.model_dump_json())
    return 0


def main(kind: Kind, argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    return run_job(kind, argv)
