"""Settings only the API reads (``LLM_TWIN_`` prefix, like :class:`llm_twin.settings.Settings`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

import llm_twin

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
    """The package's own version string (the deployed layer has no installed-package metadata)."""
    return llm_twin.__version__
