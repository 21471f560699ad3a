"""The warehouse table's physical schema: the single source for pynamodb models, the local runtime
(which creates the table on moto) and the CDK construct (infra/constructs/warehouse.py)."""

from __future__ import annotations

PARTITION_KEY = "pk"
SORT_KEY = "sk"
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"
BILLING_MODE = "PAY_PER_REQUEST"

# Key prefixes of the single-table design (see docs/data-model.md).
AUTHOR_PREFIX = "AUTHOR#"  # pk of an author's items
PROFILE_SK = "PROFILE"  # sk of the author item
DOCUMENT_PREFIX = "DOC#"  # sk of a document item (pk = AUTHOR#<author_id>)
RUN_PREFIX = "RUN#"  # pk of a collection run's items
RUN_SK = "RUN"  # sk of the run summary item
LINK_PREFIX = "LINK#"  # sk of one link's status inside a run (zero-padded index)

# Item type attribute, present on every item: lets stream consumers filter cheaply.
ITEM_TYPE_ATTRIBUTE = "item_type"
ITEM_TYPE_AUTHOR = "author"
ITEM_TYPE_DOCUMENT = "document"
ITEM_TYPE_RUN = "run"
ITEM_TYPE_LINK_STATUS = "link_status"

# One sparse, overloaded global secondary index. Only small "listing" items carry its keys (authors
# and run summaries), so documents are never copied into it and listing never scans the table.
#   authors: gsi1pk = AUTHORS, gsi1sk = <author_id>               -> list_authors (by id)
#   runs:    gsi1pk = RUNS,    gsi1sk = <started_at ISO>#<run_id> -> list_runs (newest first)
# Both partitions receive a few writes per day at most, so a constant partition key is harmless.
GSI1_NAME = "gsi1"
GSI1_PARTITION_KEY = "gsi1pk"
GSI1_SORT_KEY = "gsi1sk"
GSI1_PROJECTION = "ALL"
GSI1_AUTHORS = "AUTHORS"
GSI1_RUNS = "RUNS"

# DynamoDB's item size limit (attribute names + values, UTF-8): "400 KB", taken as 400,000 bytes, the
# conservative reading (the real cut-off is ~409 KB; moto enforces 405,000).
MAX_ITEM_BYTES = 400_000


def create_table_request(table_name: str, *, stream: bool = True) -> dict[str, object]:
    """The ``CreateTable`` request for the warehouse table (boto3 keyword arguments): what the local
    runtime sends to moto, and what the CDK construct must declare (key schema, GSI, billing, stream)."""
    request: dict[str, object] = {
        "TableName": table_name,
        "BillingMode": BILLING_MODE,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in (PARTITION_KEY, SORT_KEY, GSI1_PARTITION_KEY, GSI1_SORT_KEY)
        ],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": GSI1_NAME,
                "KeySchema": [
                    {"AttributeName": GSI1_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": GSI1_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": GSI1_PROJECTION},
            }
        ],
    }
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE}
    return request
