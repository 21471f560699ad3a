"""Running the training entry points on SageMaker.

* :mod:`training.sagemaker.images` — the pinned Deep Learning Container images per region.
* :mod:`training.sagemaker.source` — what a job runs: ``training`` + ``llm_twin`` + requirements.txt.
* :mod:`training.sagemaker.bootstrap` — the container-side start (``SM_*`` variables, HF token, entry).
* :mod:`training.sagemaker.launcher` — ``launch_training(kind, config, settings)`` with ``ModelTrainer``.

The training workflow (Step Functions, ``infra/constructs/training_workflow.py``) runs the same source
and bootstrap. Nothing here imports the SageMaker SDK at import time.
"""
