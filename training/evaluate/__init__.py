"""Evaluation of the fine-tuned twin (issue 6): LLM-as-judge, style measures, retrieval metrics, the
side-by-side report and the gate. Entry point: ``python -m training.evaluate`` (the training workflow's
Evaluate step); locally ``llm-twin evaluate``. See docs/training.md, "Evaluation"."""
