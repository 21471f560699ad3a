"""Rows → TRL datasets: the one chat template from dataset to training to serving; completion-only loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llm_twin.llm.ports import ChatMessage
from llm_twin.prompts.chat_template import CHAT_TEMPLATE, IM_END, render
from tests.finetune.fixtures import instruction_samples, preference_samples, sft_config, write_dataset
from training.datasets.schema import InstructionSample
from training.finetune.data import (
    DatasetError,
    dpo_datasets,
    dpo_row,
    read_rows,
    resolve_dataset_dir,
    serving_prompt,
    sft_datasets,
    sft_row,
    training_text,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path) -> Any:
    from training.finetune.models import load_tokenizer

    tokenizer, tokens = load_tokenizer(str(tiny_model))
    assert tokens.added == {} and tokens.stop_ids == [2]  # SmolLM2's tokenizer is ChatML, eos <|im_end|>
    return tokenizer


def test_sft_row_is_conversational_prompt_completion() -> None:
    sample = instruction_samples(1, system="You write like Maya.")[0]
    assert sft_row(sample) == {
        "prompt": [
            {"role": "system", "content": "You write like Maya."},
            {"role": "user", "content": sample.instruction},
        ],
        "completion": [{"role": "assistant", "content": sample.answer}],
    }
    assert sft_row(instruction_samples(1)[0])["prompt"][0]["role"] == "user"  # no system: template default


def test_dpo_row() -> None:
    sample = preference_samples(1)[0]
    row = dpo_row(sample)
    assert row["prompt"] == [{"role": "user", "content": sample.prompt}]
    assert row["chosen"] == [{"role": "assistant", "content": sample.chosen}]
    assert row["rejected"] == [{"role": "assistant", "content": sample.rejected}]


@pytest.mark.parametrize("system", [None, "You write like Maya."])
def test_round_trip_dataset_training_serving(tokenizer: Any, system: str | None) -> None:
    """Dataset row → the text TRL trains on → the prompt the servers build: one template, same prefix."""
    sample = instruction_samples(1, system=system)[0]
    row = sft_row(sample)
    trained = training_text(row)
    # What TRL renders: the tokenizer's template (set to CHAT_TEMPLATE) on prompt + completion.
    assert tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False) == trained
    # What the local server / LMI client send: chat_template.render of the same messages + generation prompt.
    messages = [ChatMessage(role=m["role"], content=m["content"]) for m in row["prompt"]]
    prompt = render(messages)
    assert prompt == serving_prompt(row)
    assert trained.startswith(prompt)
    assert trained == prompt + sample.answer + IM_END + "\n"
    # The LMI container applies the exported tokenizer's template to `messages` bodies: the same string.
    assert tokenizer.chat_template == CHAT_TEMPLATE
    assert tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True) == prompt


def test_dpo_round_trip(tokenizer: Any) -> None:
    row = dpo_row(preference_samples(1)[0])
    prompt = serving_prompt(row)
    for key in ("chosen", "rejected"):
        text = training_text(row, key)
        assert text.startswith(prompt)
        assert text == prompt + row[key][0]["content"] + IM_END + "\n"


def test_completion_only_labels(
    tiny_model: Path, datasets_root: Path, tokenizer: Any, tmp_path: Path
) -> None:
    """The prompt's tokens get label -100; exactly the answer and its <|im_end|>\\n are learned."""
    from training.finetune.models import TemplateTokens, detect_device, load_model, lora_config
    from training.finetune.sft import build_sft_trainer

    config = sft_config(tiny_model, datasets_root, tmp_path / "run")
    device = detect_device()
    model = load_model(config, device, tokenizer, TemplateTokens({}, [2]))
    trainer, rows = build_sft_trainer(config, device, tokenizer, model, lora_config(config.lora), False, [])
    assert rows == 8
    samples = read_rows(resolve_dataset_dir(datasets_root / "instruct"), "train", InstructionSample)
    for example, sample in zip(trainer.train_dataset, samples, strict=True):
        row = sft_row(sample)
        prompt_ids = tokenizer(serving_prompt(row), add_special_tokens=False)["input_ids"]
        ids, labels = example["input_ids"], example["labels"]
        assert ids == tokenizer(training_text(row), add_special_tokens=False)["input_ids"]
        assert labels[: len(prompt_ids)] == [-100] * len(prompt_ids)
        assert labels[len(prompt_ids) :] == ids[len(prompt_ids) :]
        assert tokenizer.decode(labels[len(prompt_ids) :]) == sample.answer + IM_END + "\n"


def test_resolve_latest_and_errors(tmp_path: Path) -> None:
    version = write_dataset(tmp_path, "instruct", instruction_samples(3), instruction_samples(1), "v1")
    assert resolve_dataset_dir(tmp_path / "instruct") == version
    assert resolve_dataset_dir(version) == version
    train, test = sft_datasets(version)
    assert len(train) == 3 and test is not None and len(test) == 1
    (version / "test.jsonl").unlink()
    assert sft_datasets(version)[1] is None  # no test split: no evaluation
    with pytest.raises(DatasetError, match="not a dataset version folder"):
        resolve_dataset_dir(tmp_path)
    (tmp_path / "instruct" / "LATEST").write_text("v2\n")
    with pytest.raises(DatasetError, match="names 'v2'"):
        resolve_dataset_dir(tmp_path / "instruct")


def test_bad_rows_name_their_line(tmp_path: Path) -> None:
    version = write_dataset(tmp_path, "preference", preference_samples(2), [], "v1")
    with (version / "train.jsonl").open("a") as out:
        out.write('{"prompt": "no id"}\n')
    with pytest.raises(DatasetError, match=r"train.jsonl:3: not a PreferenceSample"):
        dpo_datasets(version)
    (version / "train.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="holds no rows"):
        dpo_datasets(version)
