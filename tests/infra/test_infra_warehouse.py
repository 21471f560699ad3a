"""The warehouse table mirrors llm_twin.warehouse.schema (keys, GSI, stream, billing)."""

from __future__ import annotations

from typing import Any

import pytest

from llm_twin.warehouse import schema

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def table(synth: Any) -> dict[str, Any]:
    # The data stack also holds the API's prompt traces table (test_infra_api_traces.py).
    return synth.templates["LlmTwinDataStack"]["Resources"][
        synth.logical_id(synth.stacks.data.warehouse.table)
    ]


def test_table_matches_the_schema_module(table: dict[str, Any]) -> None:
    props = table["Properties"]
    request = schema.create_table_request("any")
    assert props["KeySchema"] == [
        {"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": schema.SORT_KEY, "KeyType": "RANGE"},
    ]
    assert props["KeySchema"] == request["KeySchema"]
    assert props["BillingMode"] == schema.BILLING_MODE == request["BillingMode"]
    assert props["StreamSpecification"] == {"StreamViewType": schema.STREAM_VIEW_TYPE}
    key = {"AttributeName", "AttributeType"}
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(request["AttributeDefinitions"], key=str)
    assert all(set(a) == key for a in props["AttributeDefinitions"])


def test_global_secondary_indexes_mirror_the_schema(table: dict[str, Any]) -> None:
    expected = schema.create_table_request("any").get("GlobalSecondaryIndexes", [])
    assert table["Properties"].get("GlobalSecondaryIndexes", []) == expected


def test_pitr_encryption_and_retention(table: dict[str, Any]) -> None:
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True,
        "RecoveryPeriodInDays": 35,
    }
    assert "PointInTimeRecoveryEnabled" not in props  # the deprecated form is not used
    # SSEEnabled without a key = the AWS managed key aws/dynamodb.
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert "TableName" not in props  # CloudFormation names it: environments never collide


def test_destroy_mode_for_dev() -> None:
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from infra.config import config_from_values
    from infra.constructs.warehouse import Warehouse

    stack = Stack(App(), "Dev")
    Warehouse(stack, "Warehouse", config=config_from_values({"removalPolicy": "destroy"}.get))
    resource = next(iter(Template.from_stack(stack).find_resources("AWS::DynamoDB::Table").values()))
    assert resource["Properties"]["DeletionProtectionEnabled"] is False
    assert resource["DeletionPolicy"] == "Delete"
