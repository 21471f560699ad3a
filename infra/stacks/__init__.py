"""Stacks: stateful data apart from the capabilities that compute on it."""

from infra.stacks.collection_stack import LlmTwinCollectionStack
from infra.stacks.data_stack import LlmTwinDataStack

__all__ = ["LlmTwinCollectionStack", "LlmTwinDataStack"]
