"""``llm-twin ask`` answers with the model a local fine-tune just published, not with the base SmolLM2.

The user's path, in-process: ``llm-twin train sft`` on a tiny random Llama (SmolLM2's tokenizer), taught
to answer every request with one marker sentence, publishes its merged model to
``<home>/models/twin/<run>``; ``import-linkedin`` indexes the sample author; ``ask`` starts the local
LMI-protocol server (``inference/local_server.py``), whose model is resolved from the home, and the LMI
client (``llm/lmi.py``) talks to it. Proof that the twin answered: the answer carries the marker (which
neither the base SmolLM2 nor the untrained tiny model writes), it equals what the published folder
generates for the prompt the trace recorded (greedy, same parameters), and the base model was never
converted or loaded (its folder does not exist in the home). ~40 s here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings
from tests.cli.test_cli import run
from tests.finetune.fixtures import instruction_samples, write_dataset

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MARKER = "Twin marker: cut by heading."


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random model with SmolLM2's tokenizer read straight from the GGUF (seconds; the 135M model
    itself is never converted in this module)."""
    from transformers import AutoTokenizer

    from llm_twin.llm.local_model import gguf_path
    from training.finetune.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny-base")
    gguf = gguf_path()
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(root / "tokenizer")
    return build_tiny_model(root / "tokenizer", root / "tiny-smollm2")


def test_ask_is_answered_by_the_published_fine_tune(
    crawl_env: Settings,
    site: SampleSite,
    tiny_base: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from llm_twin.llm.local_model import LocalChatModel, base_model_dir
    from llm_twin.llm.ports import ChatMessage, GenerationParams
    from llm_twin.rag.settings import RagSettings

    monkeypatch.delenv("LLM_TWIN_LOCAL_MODEL_DIR", raising=False)  # the home decides what is served
    monkeypatch.setenv("LLM_TWIN_RAG_SELF_QUERY", "false")
    monkeypatch.setenv("LLM_TWIN_RAG_ANSWER_MAX_TOKENS", "16")
    home = tmp_path / "home"
    datasets = tmp_path / "datasets"
    rows = [row.model_copy(update={"answer": MARKER}) for row in instruction_samples(10)]
    write_dataset(datasets, "instruct", rows[:8], rows[8:])
    hyperparameters = tmp_path / "hp.json"  # over the `local` preset: learn the marker in 10 steps
    hyperparameters.write_text(
        json.dumps(
            {"learning_rate": 1e-2, "lr_scheduler": "constant", "warmup_steps": 0, "lora": {"dropout": 0.0}}
        )
    )

    code, out, err = run(
        capsys,
        home,
        "train",
        "sft",
        "--base",
        str(tiny_base),
        "--dataset",
        str(datasets / "instruct"),
        "--config",
        str(hyperparameters),
        "--max-steps",
        "10",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    published = Path(result["published_dir"])
    assert published == home / "models" / "twin" / result["run_id"]
    assert (published / "config.json").is_file() and (published / "model.safetensors").is_file()

    archive = site.write_linkedin_export(tmp_path / "export.zip")
    code, _, err = run(capsys, home, "import-linkedin", "--author", site.author_name, str(archive))
    assert code == 0, err

    question = "What do you write about chunking documents for retrieval?"
    code, out, err = run(capsys, home, "ask", question, "--no-expand", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["grounded"] is True  # retrieval found sources, so the LLM was called
    assert answer["answer"].startswith("Twin marker: cut by")  # what the fine-tune learned
    assert not base_model_dir(home).exists()  # the base SmolLM2 was never converted nor served

    traces = [json.loads(line) for line in (home / "traces.jsonl").read_text().splitlines()]
    (trace,) = [t for t in traces if t["trace_id"] == answer["trace_id"]]
    assert trace["messages"] and trace["answer"] == answer["answer"]
    rag = RagSettings()
    twin = LocalChatModel(Settings(home=home), published)
    expected = twin.generate(
        [ChatMessage.model_validate(m) for m in trace["messages"]],
        GenerationParams(max_new_tokens=rag.answer_max_tokens, repetition_penalty=rag.repetition_penalty),
    )
    assert expected.text.strip(), "the tiny twin produced nothing: the comparison would prove nothing"
    assert answer["answer"] == expected.text.strip()
