"""A sample author written for this project, and local copies of the sites that publish her.

Nell Harrowgate (fictional) is an ML engineer in Bristol who writes about retrieval, feature
pipelines, serverless AWS, evaluation and fine-tuning small models, plus the odd personal essay:
5 Medium articles, 5 Substack posts, 4 posts on a Hugo blog, a small GitHub library (kerf) and a
LinkedIn data export. ``questions.jsonl`` labels which documents answer ~30 reader questions.

- :class:`~llm_twin.sample.server.SampleSite` serves Medium, Substack, the blog and GitHub on
  127.0.0.1, one origin per platform, shaped like the real sites;
- :func:`~llm_twin.sample.linkedin.write_linkedin_export` writes the LinkedIn export zip;
- :func:`~llm_twin.sample.corpus.load_corpus` gives the content itself (pieces, repository files,
  questions) for tests, datasets and evaluation.

Nothing is read or started at import time.
"""

from llm_twin.sample.corpus import Corpus, Piece, Question, load_corpus
from llm_twin.sample.linkedin import linkedin_export_bytes, linkedin_posts, write_linkedin_export
from llm_twin.sample.server import RequestRecord, SampleSite

__all__ = [
    "Corpus",
    "Piece",
    "Question",
    "RequestRecord",
    "SampleSite",
    "linkedin_export_bytes",
    "linkedin_posts",
    "load_corpus",
    "write_linkedin_export",
]
