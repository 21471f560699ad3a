"""The workflows and which Lambda function (folder under lambdas/) fills each ASL placeholder.

CDK (infra/) and the local runtime both read this, so the two can never wire a state differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    asl_file: str
    functions: dict[str, str]  # ASL placeholder -> lambdas/<folder>

    @property
    def asl_path(self) -> Path:
        return Path(str(files("llm_twin.workflows").joinpath(self.asl_file)))


COLLECTION = WorkflowSpec(
    name="collection",
    asl_file="collection.asl.json",
    functions={
        "ValidateFunctionArn": "collect_validate",
        "CrawlFunctionArn": "collect_crawl",
        "FinalizeFunctionArn": "collect_finalize",
    },
)

# No Lambda function: the training workflow's placeholders (SageMaker role, bucket, images, compute,
# hyperparameters) are filled by infra/constructs/training_workflow.py (TrainingWorkflow.substitutions).
TRAINING = WorkflowSpec(name="training", asl_file="training.asl.json", functions={})
