"""Stacks: stateful data apart from the capabilities that compute on it."""

from infra.stacks.api_stack import LlmTwinApiStack
from infra.stacks.collection_stack import LlmTwinCollectionStack
from infra.stacks.data_stack import LlmTwinDataStack
from infra.stacks.features_stack import LlmTwinFeaturesStack
from infra.stacks.serving_stack import LlmTwinServingStack
from infra.stacks.training_stack import LlmTwinTrainingStack

__all__ = [
    "LlmTwinApiStack",
    "LlmTwinCollectionStack",
    "LlmTwinDataStack",
    "LlmTwinFeaturesStack",
    "LlmTwinServingStack",
    "LlmTwinTrainingStack",
]
