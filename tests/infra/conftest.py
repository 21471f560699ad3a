"""Infra test fixtures: the app is synthesized once per session (layer bundling skipped).

Every module here sets ``pytestmark = pytest.mark.infra`` (needs node); layer bundling is also ``slow``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass
class Synth:
    """One synthesized app: stacks (constructs), templates (dicts) and helpers to query them."""

    app: Any
    stacks: Any  # infra.application.LlmTwinStacks
    outdir: Path
    templates: dict[str, dict[str, Any]]  # by stack id
    template_paths: dict[str, Path]

    def resources(self, stack_id: str, cfn_type: str) -> dict[str, dict[str, Any]]:
        found = self.templates[stack_id]["Resources"].items()
        return {k: v for k, v in found if v["Type"] == cfn_type}

    def only(self, stack_id: str, cfn_type: str) -> dict[str, Any]:
        found = self.resources(stack_id, cfn_type)
        assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
        return next(iter(found.values()))

    def logical_id(self, construct: Any) -> str:
        """Logical id of an L2's default child (or of an L1)."""
        from aws_cdk import Stack

        element = getattr(construct.node, "default_child", None) or construct
        stack = Stack.of(element)
        return str(stack.resolve(stack.get_logical_id(element)))

    def policy_statements(self, stack_id: str, role_logical_id: str) -> list[dict[str, Any]]:
        """All statements of the AWS::IAM::Policy resources attached to a role, plus its inline ones."""
        resources = self.templates[stack_id]["Resources"]
        statements: list[dict[str, Any]] = []
        for resource in resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical_id} in props.get("Roles", []):
                statements += props["PolicyDocument"]["Statement"]
        for policy in resources[role_logical_id]["Properties"].get("Policies", []):
            statements += policy["PolicyDocument"]["Statement"]
        return statements

    def all_iam_statements(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, statement) of every identity policy in every template."""
        for stack_id, template in self.templates.items():
            for logical_id, resource in template["Resources"].items():
                props = resource.get("Properties", {})
                docs = []
                if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                    docs.append(props["PolicyDocument"])
                if resource["Type"] == "AWS::IAM::Role":
                    docs += [p["PolicyDocument"] for p in props.get("Policies", [])]
                for doc in docs:
                    for statement in doc["Statement"]:
                        yield f"{stack_id}/{logical_id}", statement


def synthesize(outdir: Path, context: dict[str, Any] | None = None, *, nag_checks: bool = True) -> Synth:
    from infra.application import STACK_IDS, create_app

    app, stacks = create_app(
        {**NO_BUNDLING, **(context or {})}, outdir=str(outdir), nag_checks=nag_checks, environ={}
    )
    assembly = app.synth()
    templates, paths = {}, {}
    for stack_id in STACK_IDS:
        artifact = assembly.get_stack_artifact(stack_id)
        templates[stack_id] = artifact.template
        paths[stack_id] = Path(artifact.template_full_path)
    return Synth(app=app, stacks=stacks, outdir=outdir, templates=templates, template_paths=paths)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The default app (cdk.json context only, no env), with cdk-nag: synth raising fails every test."""
    if shutil.which("node") is None:
        pytest.skip("the CDK needs node on PATH")
    return synthesize(tmp_path_factory.mktemp("cdk-out"))


@pytest.fixture(scope="session")
def synthesizer() -> Any:
    """:func:`synthesize` for modules that need an app with other context (node required)."""
    if shutil.which("node") is None:
        pytest.skip("the CDK needs node on PATH")
    return synthesize


@pytest.fixture(scope="session")
def data_template(synth: Synth) -> dict[str, Any]:
    return synth.templates["LlmTwinDataStack"]


@pytest.fixture(scope="session")
def collection_template(synth: Synth) -> dict[str, Any]:
    return synth.templates["LlmTwinCollectionStack"]


@pytest.fixture(scope="session")
def features_template(synth: Synth) -> dict[str, Any]:
    return synth.templates["LlmTwinFeaturesStack"]
