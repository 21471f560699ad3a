"""Container-side start of every SageMaker job: ``python -m training.sagemaker.bootstrap <module> [args]``.

1. In a training job, exports the ``SM_*`` variables the entry points read (``SM_MODEL_DIR``,
   ``SM_OUTPUT_DATA_DIR``, ``SM_CHANNEL_<NAME>``, ``SM_CHANNELS``, ``SM_HPS``, ``SM_HP_<NAME>``...) from
   ``/opt/ml/input/config`` — unless already set. The SageMaker training toolkit or ModelTrainer's
   drivers set them; a job started by Step Functions overrides the image's entry point, so nobody else
   does. Values already present win, so both launch paths see the same environment.
2. When ``LLM_TWIN_HF_TOKEN_SECRET_NAME`` names a Secrets Manager secret (not ``none``) and ``HF_TOKEN``
   is unset, reads the Hugging Face token from it (gated base models). The token lives only in this process's
   environment: never in hyperparameters, job environment, logs or the repository.
3. Runs ``<module>`` as ``__main__`` with ``args`` (``runpy``), exiting with its status.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

OPT_ML = Path("/opt/ml")
# Names of variables and a sentinel, not secrets (S105).
HF_TOKEN_SECRET_ENV = "LLM_TWIN_HF_TOKEN_SECRET_NAME"  # noqa: S105
HF_TOKEN_ENV = "HF_TOKEN"  # noqa: S105
NO_SECRET = "none"  # noqa: S105  (means "no secret": the workflow cannot pass an empty string)
_SECRET_KEYS = ("HF_TOKEN", "hf_token", "token")


def training_environment(root: Path = OPT_ML) -> dict[str, str]:
    """The ``SM_*`` variables of a training job, derived from ``<root>/input/config`` (empty outside one)."""
    config = root / "input" / "config"
    if not config.is_dir():
        return {}
    env = {
        "SM_MODEL_DIR": str(root / "model"),
        "SM_INPUT_DIR": str(root / "input"),
        "SM_INPUT_CONFIG_DIR": str(config),
        "SM_OUTPUT_DIR": str(root / "output"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_CHECKPOINT_DIR": str(root / "checkpoints"),
    }
    channels = _read_json(config / "inputdataconfig.json") or {}
    names = sorted(channels) if isinstance(channels, dict) else []
    env["SM_CHANNELS"] = json.dumps(names)
    for name in names:
        env[f"SM_CHANNEL_{name.upper()}"] = str(root / "input" / "data" / name)
    hyperparameters = _read_json(config / "hyperparameters.json") or {}
    if isinstance(hyperparameters, dict):
        env["SM_HPS"] = json.dumps(hyperparameters, sort_keys=True)
        for key, value in hyperparameters.items():
            env[f"SM_HP_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    resources = _read_json(config / "resourceconfig.json")
    if isinstance(resources, dict):
        env["SM_CURRENT_HOST"] = str(resources.get("current_host", ""))
        env["SM_HOSTS"] = json.dumps(resources.get("hosts", []))
    return env


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def token_from_secret(secret_string: str) -> str:
    """A plain token, or a JSON object holding it under HF_TOKEN / hf_token / token."""
    text = secret_string.strip()
    if text.startswith("{"):
        data = json.loads(text)
        for key in _SECRET_KEYS:
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])
        raise ValueError(f"the secret is a JSON object without one of the keys {', '.join(_SECRET_KEYS)}")
    if not text:
        raise ValueError("the secret is empty")
    return text


def fetch_hf_token(secret_name: str, *, client: Any = None) -> str:
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    response = client.get_secret_value(SecretId=secret_name)
    return token_from_secret(str(response.get("SecretString") or ""))


def prepare_environment(
    env: MutableMapping[str, str], *, root: Path = OPT_ML, secrets_client: Any = None
) -> list[str]:
    """Fill ``env`` in place; returns the names that were added (never their values)."""
    added = []
    for key, value in training_environment(root).items():
        if key not in env:
            env[key] = value
            added.append(key)
    secret_name = env.get(HF_TOKEN_SECRET_ENV, "").strip()
    if secret_name and secret_name.lower() != NO_SECRET and not env.get(HF_TOKEN_ENV):
        env[HF_TOKEN_ENV] = fetch_hf_token(secret_name, client=secrets_client)
        added.append(HF_TOKEN_ENV)
    return added


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        print("usage: python -m training.sagemaker.bootstrap <module> [args...]", file=sys.stderr)
        return 2
    module, rest = args[0], args[1:]
    added = prepare_environment(os.environ)
    print(f"llm-twin bootstrap: running {module} (set: {', '.join(sorted(added)) or 'nothing'})", flush=True)
    sys.argv = [module, *rest]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
