"""The RAG service's author list: read once per ``authors_cache_s``, re-read when a request names an
author the cached list lacks, never an empty list from the cache."""

from __future__ import annotations

from llm_twin.rag.authors import CachedAuthors
from llm_twin.warehouse.records import Author
from tests.rag.fakes import Directory


class CountingDirectory(Directory):
    """A stand-in for the warehouse table (DynamoDB) that counts its reads."""

    reads = 0

    def list_authors(self) -> list[Author]:
        self.reads += 1
        return super().list_authors()


def author(name: str) -> Author:
    return Directory(name).authors[0]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_list_is_reused_until_it_expires() -> None:
    directory, clock = CountingDirectory("Ada Quill"), Clock()
    cached = CachedAuthors(directory, 30.0, clock=clock)
    assert [a.full_name for a in cached.list_authors()] == ["Ada Quill"]
    clock.now = 29.0
    directory.authors.append(author("Bruno Vale"))
    assert len(cached.list_authors()) == 1 and directory.reads == 1
    clock.now = 30.5
    assert len(cached.list_authors()) == 2 and directory.reads == 2
    assert len(cached.list_authors(fresh=True)) == 2 and directory.reads == 3


def test_an_empty_list_is_never_served_from_the_cache() -> None:
    directory = CountingDirectory()
    cached = CachedAuthors(directory, 30.0, clock=Clock())
    assert cached.list_authors() == []
    directory.authors.append(author("Ada Quill"))
    assert [a.full_name for a in cached.list_authors()] == ["Ada Quill"]


def test_ttl_zero_reads_every_time() -> None:
    directory = CountingDirectory("Ada Quill")
    cached = CachedAuthors(directory, 0.0, clock=Clock())
    cached.list_authors()
    cached.list_authors()
    assert directory.reads == 2
