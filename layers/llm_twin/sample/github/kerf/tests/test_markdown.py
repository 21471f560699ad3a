from kerf import chunk_markdown
from kerf.markdown import parse_sections

DOC = """# Smart meters

Smart meters send readings every half hour.

## Submitting a reading

You do not need to submit readings from a smart meter.

```python
def reading_is_due(meter):
    return not meter.is_smart
```

## If your reading looks wrong

| symptom | likely cause |
|---|---|
| doubled usage | a retried batch |
"""


def test_heading_paths_follow_the_outline():
    paths = [s.heading_path for s in parse_sections(DOC)]
    assert paths == [
        ("Smart meters",),
        ("Smart meters", "Submitting a reading"),
        ("Smart meters", "If your reading looks wrong"),
    ]


def test_sections_never_share_a_chunk():
    chunks = chunk_markdown(DOC, max_tokens=400, overlap=50)
    assert [c.title for c in chunks] == [
        "Smart meters",
        "Smart meters > Submitting a reading",
        "Smart meters > If your reading looks wrong",
    ]
    assert chunks[1].for_embedding().startswith("Smart meters > Submitting a reading\n\n")


def test_code_blocks_and_tables_stay_whole():
    chunks = chunk_markdown(DOC, max_tokens=400, overlap=50)
    code = "```python\ndef reading_is_due(meter):\n    return not meter.is_smart\n```"
    table = "| symptom | likely cause |\n|---|---|\n| doubled usage | a retried batch |"
    assert code in chunks[1].text
    assert chunks[2].text == table


def test_an_oversized_code_block_is_split_and_refenced():
    body = "\n".join(f"value_{i} = {i}" for i in range(200))
    chunks = chunk_markdown(f"## Big\n\n```python\n{body}\n```\n", max_tokens=100, overlap=0)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.startswith("```python\n")
        assert chunk.text.endswith("\n```")
        assert chunk.token_estimate <= 100
