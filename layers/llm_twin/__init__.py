"""llm-twin: collect an author's writing, build RAG features, fine-tune and serve a model that writes
like them. The version lives here (pyproject reads it) so the Lambda layer, which carries no package
metadata, reports it too."""

__version__ = "0.1.0"
