"""Settings only the API reads (``LLM_TWIN_`` prefix, like :class:`llm_twin.settings.Settings`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_BODY_BYTES = 64 * 1024


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLM_TWIN_", extra="ignore")

    api_key: str | None = Field(
        None, description="Local server only: the x-api-key it requires (random per start when unset)."
    )
    web_origin: str | None = Field(
        None, description="The web page's origin allowed by CORS (None: same-origin only, no CORS headers)."
    )
    api_max_body_bytes: int = Field(MAX_BODY_BYTES, gt=0, description="Largest request body (else 413).")


def api_version() -> str:
    try:
        return version("llm-twin")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0"
