"""The ``llm-twin`` command line (see ARCHITECTURE.md section 6)."""

from llm_twin.cli.main import main

__all__ = ["main"]
