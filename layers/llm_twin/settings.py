"""Settings for every entry point (Lambda, CLI, local runtime), read from ``LLM_TWIN_*`` variables.

Nothing is read at import time: call :func:`get_settings` (cached) or build ``Settings()`` in tests.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLM_TWIN_", extra="ignore", populate_by_name=True)

    # --- AWS / warehouse -------------------------------------------------------------------------
    region: str = Field(
        "us-east-1",
        validation_alias=AliasChoices("LLM_TWIN_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="AWS region of the table, buckets and workflows (Lambda sets AWS_REGION).",
    )
    table_name: str = Field("llm-twin-warehouse", description="The single DynamoDB warehouse table.")
    aws_endpoint_url: str | None = Field(
        None, description="Override for every AWS client (set by the local runtime to moto's server)."
    )
    collection_state_machine_arn: str | None = Field(
        None, description="ARN of the collection workflow (set on AWS by CDK)."
    )

    # --- local runtime ---------------------------------------------------------------------------
    home: Path = Field(Path(".llm-twin"), description="Local state folder (warehouse snapshot, index).")

    # --- crawling --------------------------------------------------------------------------------
    crawl_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts (names or IP literals) exempt from the SSRF guard, e.g. 127.0.0.1 for tests.",
    )
    crawl_timeout_s: float = Field(10.0, gt=0, description="Connect and read timeout per request.")
    crawl_max_bytes: int = Field(5_000_000, gt=0, description="Maximum response body size.")
    crawl_max_retries: int = Field(3, ge=0, description="Retries on 429/5xx/connection errors.")
    crawl_backoff_s: float = Field(0.5, ge=0, description="Base of the exponential retry backoff.")
    crawl_max_redirects: int = Field(5, ge=0)
    crawl_user_agent: str = Field("llm-twin/0.1 (+https://github.com/llm-twin/llm-twin)")
    crawl_max_feed_items: int = Field(50, gt=0, description="Posts taken from one Medium/Substack feed.")
    crawl_max_concurrency: int = Field(4, ge=1, le=40, description="Map state MaxConcurrency.")
    github_max_file_bytes: int = Field(200_000, gt=0, description="Files larger than this are skipped.")
    github_max_repo_bytes: int = Field(5_000_000, gt=0, description="Text kept from one repository.")
    github_max_files: int = Field(500, gt=0)
    github_max_archive_bytes: int = Field(50_000_000, gt=0, description="Tarball download cap.")
    max_document_bytes: int = Field(
        300_000, gt=0, description="UTF-8 bytes of markdown kept per document (DynamoDB items cap at 400 KB)."
    )

    @field_validator("crawl_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
