"""``python -m training.datasets.build`` as the SageMaker Processing job runs it: the warehouse table
and S3 on a local moto server, the generator behind an LMI-protocol server (a scripted model), and
``llm-twin dataset build`` refusing an empty warehouse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.local_server import LocalLmiServer
from llm_twin.domain.models import Category, CrawledDocument, Platform
from llm_twin.errors import InvalidInputError
from llm_twin.llm.local_model import Completion
from llm_twin.llm.ports import GenerationParams
from llm_twin.local.aws import LocalAws
from llm_twin.local.clients import aws_client
from tests.cli.test_cli import run
from tests.datasets.factories import prose
from training.datasets import build
from training.datasets.generation import DRAFT_SYSTEM_PROMPT
from training.datasets.store import load_dataset_version


class ScriptedServedModel:
    """What the LMI server serves: JSON instructions (every third one in prose), plain drafts."""

    model_name = "scripted-lmi"
    loaded = True

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def load(self) -> None:
        pass

    def complete(
        self, prompt: str, params: GenerationParams | None = None, cancelled: object = None
    ) -> Completion:
        self.prompts.append(prompt)
        if DRAFT_SYSTEM_PROMPT in prompt:
            text = prose(prompt[-200:], 40)
        elif len(self.prompts) % 3 == 0:
            text = 'Here you go: {"instruction": "Explain what you learned this week."} Enjoy!'
        else:
            text = json.dumps({"instruction": f"Write post number {len(self.prompts)} of your series."})
        return Completion(text, len(prompt.split()), len(text.split()), "stop")


@pytest.fixture
def lmi(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServedModel]:
    model = ScriptedServedModel()
    with LocalLmiServer(model) as server:
        server.wait_ready(5)
        monkeypatch.setenv("LLM_TWIN_LMI_URL", server.url)
        yield model


def seed(local: LocalAws, author: str, n: int) -> None:
    warehouse = local.warehouse()
    person = warehouse.upsert_author(author)
    for i in range(n):
        doc = CrawledDocument(
            platform=Platform.SUBSTACK,
            category=Category.POST,
            link=f"https://{person.author_id}.example.com/p/post-{i}",
            title=f"Post {i}",
            content=prose(f"{author}-{i}", 260),
        )
        warehouse.upsert_document(person.author_id, author, doc)


def test_processing_entry_point_reads_the_table_and_writes_s3(
    local_aws: LocalAws, lmi: ScriptedServedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(local_aws, "Nell Harrowgate", 6)
    seed(local_aws, "Someone Else", 2)
    s3 = aws_client("s3", local_aws.settings)
    s3.create_bucket(Bucket="artifacts")
    argv = [
        "--warehouse-table",
        local_aws.settings.table_name,
        "--output",
        "s3://artifacts/datasets",
        "--llm",
        "lmi-local",
        "--author",
        "Nell Harrowgate",
        "--min-words",
        "100",
        "--test-ratio",
        "0.2",
        "--min-draft-words",
        "10",
        "--json",
    ]
    assert build.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source_documents"] == 6  # only the chosen author
    assert report["extracts_used"] == 6 and report["generator_model"] == "scripted-lmi"
    assert report["instructions"] == {"llm": 4, "repaired": 2, "draft": 6}
    assert report["errors"] == {"instruction.repaired": 2}

    for kind in ("instruct", "preference"):
        uri = report["datasets"][kind]["uri"]
        assert uri.startswith(f"s3://artifacts/datasets/{kind}/")
        version = load_dataset_version("s3://artifacts/datasets", kind, client=s3)
        assert uri.endswith(version.version)
        rows = version.train + version.test
        assert len(rows) == 6 and {r.provenance.author_name for r in rows} == {"Nell Harrowgate"}
        assert version.test and not {r.provenance.document_id for r in version.test} & {
            r.provenance.document_id for r in version.train
        }

    with pytest.raises(InvalidInputError, match="Nobody"):
        build.main([*argv[:6], "--author", "Nobody"])


def test_cli_refuses_an_empty_warehouse(
    crawl_env: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, tmp_path / "empty", "dataset", "build", "--kind", "instruct")
    assert code == 2 and "no documents" in err
    assert not (tmp_path / "empty" / "datasets").exists()
