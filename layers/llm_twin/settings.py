"""Settings for every entry point (Lambda, CLI, local runtime), read from ``LLM_TWIN_*`` variables.

Nothing is read at import time: call :func:`get_settings` (cached) or build ``Settings()`` in tests.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

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
    training_state_machine_arn: str | None = Field(
        None, description="ARN of the training workflow (set on AWS by CDK); None: train with the CLI."
    )
    collection_bucket: str = Field(
        "llm-twin-collection-runs",
        description="S3 bucket of the collection runs' work files: runs/<run_id>/targets.json (the "
        "Distributed Map's items) and the Map's results (set on AWS by CDK; created locally on moto).",
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

    # --- embedder (features/embedding) ----------------------------------------------------------
    embedder: Literal["local", "bedrock"] = Field(
        "local",
        description="local: all-MiniLM-L6-v2 in-process (384 dims); bedrock: Titan Text Embeddings V2.",
    )
    embedder_batch_size: int = Field(
        8, gt=0, description="Texts per forward pass of the local model (8: fastest on CPU, see benchmarks)."
    )
    bedrock_embedding_model_id: str = Field(
        "amazon.titan-embed-text-v2:0", description="Bedrock model id of the AWS embedder."
    )
    bedrock_embedding_dimensions: int = Field(
        1024, description="Titan V2 output size: 1024, 512 or 256 (less memory, slightly lower recall)."
    )
    bedrock_max_concurrency: int = Field(
        8, ge=1, le=64, description="Parallel InvokeModel calls per embed_documents (one text per call)."
    )

    # --- vector index (features/index) -----------------------------------------------------------
    vector_index: Literal["embedded", "opensearch"] = Field(
        "embedded", description="embedded: LanceDB under <home>/index; opensearch: an OpenSearch k-NN domain."
    )
    index_name: str = Field(
        "llm-twin-chunks",
        pattern=r"^[a-z][a-z0-9-]{0,63}$",
        description="Logical index name: the OpenSearch alias / the LanceDB generation prefix.",
    )
    index_ann_min_rows: int = Field(
        10_000, ge=0, description="Embedded index: build an ANN (IVF_HNSW_SQ) index from this many rows."
    )
    hnsw_m: int = Field(24, ge=2, le=100, description="HNSW links per node (both adapters).")
    hnsw_ef_construction: int = Field(300, ge=16, description="HNSW build-time candidate list size.")
    hnsw_ef_search: int = Field(256, ge=10, description="HNSW query-time candidate list size.")
    opensearch_endpoint: str | None = Field(
        None, description="OpenSearch URL, e.g. https://search-x.us-east-1.es.amazonaws.com (set by CDK)."
    )
    opensearch_auth: Literal["sigv4", "none"] = Field(
        "sigv4", description="sigv4: sign with the Lambda role (IAM); none: unsigned (local engines)."
    )
    opensearch_timeout_s: float = Field(10.0, gt=0, description="Per-request timeout.")
    opensearch_max_retries: int = Field(3, ge=0, description="Retries on connection errors, 429 and 5xx.")
    opensearch_backoff_s: float = Field(0.5, ge=0, description="Base of the exponential retry backoff.")
    opensearch_replicas: int = Field(
        0, ge=0, description="Replicas per index (0 on a one-node domain; 1 with two or more data nodes)."
    )

    # --- LLM (llm/) ------------------------------------------------------------------------------
    llm: Literal["lmi-local", "lmi-sagemaker", "bedrock"] = Field(
        "lmi-local",
        description="lmi-local: an LMI-protocol server at LLM_TWIN_LMI_URL (inference/local_server.py); "
        "lmi-sagemaker: the SageMaker LMI endpoint LLM_TWIN_LMI_ENDPOINT_NAME; bedrock: Bedrock Converse.",
    )
    lmi_url: str = Field(
        "http://127.0.0.1:8080", description="Base URL of an LMI-protocol server (POST <url>/invocations)."
    )
    lmi_endpoint_name: str | None = Field(None, description="SageMaker LMI endpoint name (set by CDK).")
    lmi_model_name: str = Field(
        "llm-twin", description="Model name reported in generations when the server does not name one."
    )
    lmi_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Read timeout of one LMI invocation (SageMaker endpoint). With LLM_TWIN_LLM=lmi-local "
        "it is the fixed part of a call's budget: max_tokens / LLM_TWIN_LMI_LOCAL_MIN_TOKENS_PER_S is added.",
    )
    lmi_local_min_tokens_per_s: float = Field(
        1.0,
        gt=0,
        description="Slowest decode rate (tokens/s) a call to the local LMI server waits for: its read "
        "timeout is lmi_timeout_s + max_tokens / this, sent to the server, which cancels the generation "
        "once that passes or the client leaves.",
    )
    lmi_connect_timeout_s: float = Field(5.0, gt=0, description="Connect timeout to the LMI endpoint.")
    local_model_dir: Path | None = Field(
        None,
        description="A transformers model folder served locally; default: the newest folder under "
        "<home>/models/twin/ (fine-tuned), else SmolLM2-135M-Instruct converted under <home>/models/.",
    )
    local_max_body_bytes: int = Field(
        1_000_000, gt=0, description="Request body cap of the local LMI server (413 above it)."
    )
    bedrock_chat_model_id: str = Field(
        "anthropic.claude-3-haiku-20240307-v1:0",
        description="Bedrock model (or inference profile) id of the bedrock chat model.",
    )

    # --- API (lambdas/api; set by CDK) ------------------------------------------------------------
    traces_table_name: str | None = Field(
        None, description="DynamoDB table of prompt traces (partition key pk = trace id); None: no traces."
    )
    traces_retention_days: int = Field(
        30, ge=1, description="Prompt traces expire (DynamoDB TTL attribute expires_at) after this many days."
    )

    @field_validator("bedrock_embedding_dimensions")
    @classmethod
    def _titan_dimensions(cls, value: int) -> int:
        if value not in (256, 512, 1024):
            raise ValueError("Titan Text Embeddings V2 supports 256, 512 or 1024 dimensions")
        return value

    @field_validator("crawl_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
