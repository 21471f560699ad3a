"""kerf: cut text into chunks that respect its structure.

Split at headings first, never inside a code block or a table, and only then count tokens.
"""

from .markdown import chunk_markdown
from .split import chunk_text
from .tokens import estimate_tokens, from_tokenizer
from .types import Chunk

__all__ = ["Chunk", "chunk_markdown", "chunk_text", "estimate_tokens", "from_tokenizer"]
__version__ = "0.3.1"
