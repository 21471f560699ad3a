"""The local LLM for CLI commands: SmolLM2 (or the newest fine-tuned twin) behind the local
LMI-protocol server, so the same LMI client talks to it as to the SageMaker endpoint on AWS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from llm_twin.local.server import apply_environment
from llm_twin.settings import Settings

READY_TIMEOUT_S = 600.0  # the first run converts the GGUF to safetensors (~20 s, more on a busy CPU)


@contextmanager
def local_llm(settings: Settings) -> Iterator[Settings]:
    """Start the local LMI server (unless the settings point at another LLM) and yield settings
    whose ``lmi_url`` is that server; the environment carries it for handlers too."""
    if settings.llm != "lmi-local":
        yield settings
        return
    from inference.local_server import LocalLmiServer  # local only: not part of the Lambda layer
    from llm_twin.llm.local_model import get_local_model

    with LocalLmiServer(get_local_model(settings)) as server:
        server.wait_ready(READY_TIMEOUT_S)
        saved = apply_environment({"LLM_TWIN_LMI_URL": server.url})
        try:
            yield settings.model_copy(update={"lmi_url": server.url})
        finally:
            apply_environment(saved)
