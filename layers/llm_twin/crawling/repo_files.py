"""Which repository files are kept (text sources and docs) and their languages."""

from __future__ import annotations

import posixpath
from enum import StrEnum

SMALL_JSON_BYTES = 20_000
MINIFIED_LINE_CHARS = 1000


class SkipReason(StrEnum):
    UNSAFE_PATH = "unsafe path"
    NOT_A_FILE = "not a regular file"
    VENDORED = "vendored or build folder"
    LOCK_FILE = "lock file"
    NOT_TEXT = "not an allow-listed text file"
    TOO_LARGE = "too large"
    BINARY = "binary"
    NOT_UTF8 = "not UTF-8"
    MINIFIED = "minified"
    EMPTY = "empty"


LANGUAGES: dict[str, str] = {
    "py": "python", "pyi": "python", "md": "markdown", "markdown": "markdown", "rst": "rst",
    "txt": "text", "toml": "toml", "yaml": "yaml", "yml": "yaml", "json": "json", "cfg": "ini",
    "ini": "ini", "js": "javascript", "mjs": "javascript", "cjs": "javascript", "jsx": "jsx",
    "ts": "typescript", "tsx": "tsx", "go": "go", "rs": "rust", "java": "java", "kt": "kotlin",
    "kts": "kotlin", "scala": "scala", "c": "c", "h": "c", "cc": "cpp", "cpp": "cpp", "hpp": "cpp",
    "cs": "csharp", "rb": "ruby", "php": "php", "swift": "swift", "sh": "bash", "bash": "bash",
    "zsh": "zsh", "sql": "sql", "r": "r", "jl": "julia", "lua": "lua", "ex": "elixir", "exs": "elixir",
    "erl": "erlang", "hs": "haskell", "ml": "ocaml", "clj": "clojure", "dart": "dart", "vue": "vue",
    "svelte": "svelte", "proto": "protobuf", "graphql": "graphql", "tf": "hcl", "hcl": "hcl",
    "css": "css", "scss": "scss", "html": "html", "ipynb": "json",
}  # fmt: skip
FILENAMES: dict[str, str] = {
    "dockerfile": "dockerfile", "containerfile": "dockerfile", "makefile": "makefile",
    "gnumakefile": "makefile", "justfile": "makefile", "procfile": "text", "gemfile": "ruby",
    "rakefile": "ruby", "readme": "text",
}  # fmt: skip
VENDORED_DIRS = frozenset({"node_modules", "vendor", "vendors", "dist", "build", ".git", "third_party",
                           "third-party", "bower_components", "__pycache__", ".venv", "venv",
                           "site-packages", ".tox", ".mypy_cache", ".pytest_cache", ".next",
                           "target"})  # fmt: skip
LOCK_FILES = frozenset({"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
                        "poetry.lock", "uv.lock", "pipfile.lock", "pdm.lock", "cargo.lock", "gemfile.lock",
                        "composer.lock", "go.sum", "mix.lock", "flake.lock", "bun.lockb",
                        "packages.lock.json"})  # fmt: skip
MINIFIED_SUFFIXES = (".min.js", ".min.css", ".min.mjs", "-min.js", ".bundle.js")


def language_for(path: str) -> str:
    name = posixpath.basename(path).lower()
    if name in FILENAMES:
        return FILENAMES[name]
    if name.startswith("dockerfile"):
        return "dockerfile"
    _, _, ext = name.rpartition(".")
    return LANGUAGES.get(ext, "") if "." in name else ""


def classify_path(path: str, size: int, max_file_bytes: int) -> SkipReason | None:
    """Why the file is skipped by its path and size alone, or None to read it."""
    parts = path.lower().split("/")
    if any(part in VENDORED_DIRS for part in parts[:-1]):
        return SkipReason.VENDORED
    name = parts[-1]
    if name in LOCK_FILES or name.endswith(".lock"):
        return SkipReason.LOCK_FILE
    if name.endswith(MINIFIED_SUFFIXES):
        return SkipReason.MINIFIED
    if not language_for(path):
        return SkipReason.NOT_TEXT
    if size > max_file_bytes or (name.endswith((".json", ".ipynb")) and size > SMALL_JSON_BYTES):
        return SkipReason.TOO_LARGE
    return None


def looks_minified(path: str, text: str) -> bool:
    """Generated one-line code: very long lines and few of them."""
    if language_for(path) in ("markdown", "text", "rst") or len(text) < MINIFIED_LINE_CHARS:
        return False
    lines = text.count("\n") + 1
    return len(text) / lines > 300 and any(len(line) > MINIFIED_LINE_CHARS for line in text.split("\n"))
