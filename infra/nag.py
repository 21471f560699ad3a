"""cdk-nag 3.x wiring: the AwsSolutions pack as a CDK policy-validation plugin, and acknowledgments.

Every acknowledgment carries a reason; they are written into the template metadata
(``cdk_nag.rules_to_suppress``) so the audit trail is visible in the synthesized templates.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

MIN_REASON_LENGTH = 20

# Reasons shared by several constructs.
XRAY_RESOURCE_STAR = (
    "X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions: "
    "Resource '*' is the only possible scope for active tracing."
)
PYTHON_RUNTIME_PINNED = (
    "Python 3.12 is pinned on purpose: the shared layer's compiled wheels are built for cp312; runtime "
    "and layer must move together (infra/bundling.py PYTHON_VERSION)."
)


def add_nag_checks(app: App) -> None:
    """Findings are errors: synth raises ``ValidationFailed`` unless each one is acknowledged."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding (``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and its children."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledging {rule_id} needs a written reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
