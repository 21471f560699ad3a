"""Write the OpenAPI document: ``python -m llm_twin.api.openapi [docs/openapi.json]``."""

from __future__ import annotations

import sys
from pathlib import Path

from llm_twin.api.app import build_app, openapi_json
from llm_twin.api.config import ApiSettings

DEFAULT_PATH = Path("docs/openapi.json")


def generate() -> str:
    """The document for the default configuration (CORS and keys do not change it)."""
    return openapi_json(build_app(ApiSettings(web_origin=None)))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    path.write_text(generate(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
