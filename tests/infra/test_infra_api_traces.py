"""Prompt traces: the data stack's TTL table the API function may only write."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra


def test_traces_table(synth: Any) -> None:
    traces = synth.stacks.data.traces
    resource = synth.templates["LlmTwinDataStack"]["Resources"][synth.logical_id(traces.table)]
    props = resource["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True,
        "RecoveryPeriodInDays": 35,
    }
    assert props["SSESpecification"] == {"SSEEnabled": True}  # AWS managed key
    assert "StreamSpecification" not in props and "GlobalSecondaryIndexes" not in props
    assert props["DeletionProtectionEnabled"] is True
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert traces.retention_days == 30
    outputs = synth.templates["LlmTwinDataStack"]["Outputs"]
    assert outputs["PromptTracesTableName"]["Value"] == {"Ref": synth.logical_id(traces.table)}


def test_destroy_mode_makes_the_table_deletable(synthesizer: Any, tmp_path: Any) -> None:
    from infra.application import DATA_STACK_ID

    result = synthesizer(tmp_path, {"removalPolicy": "destroy", "tracesRetentionDays": 7}, nag_checks=False)
    traces = result.stacks.data.traces
    resource = result.templates[DATA_STACK_ID]["Resources"][result.logical_id(traces.table)]
    assert resource["DeletionPolicy"] == "Delete"
    assert resource["Properties"].get("DeletionProtectionEnabled", False) is False
    assert traces.retention_days == 7
