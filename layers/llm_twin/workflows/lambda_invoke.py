"""Calling a Python Lambda handler in-process the way the Lambda service and Step Functions do.

- The handler gets a JSON copy of the payload and a context object with the attributes the Python
  runtime (awslambdaric) sets, so powertools decorators (``inject_lambda_context`` ...) work.
- The result is marshalled as the runtime does: JSON, with ``Decimal`` allowed; anything else that JSON
  cannot encode fails with ``Runtime.MarshalError`` ("Unable to marshal response: ...").
- An exception becomes the error Step Functions reports for a Lambda task: the error name is the
  runtime's ``errorType`` (the exception's class name), the cause is the runtime's error document as a
  JSON string ``{"errorMessage", "errorType", "requestId", "stackTrace"}``.
- ``arn:aws:states:::lambda:invoke`` wraps the result like the Invoke API response:
  ``{"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"}``.
"""

from __future__ import annotations

import decimal
import json
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_twin.workflows.failures import StatesError

Handler = Callable[[Any, Any], Any]

OPTIMIZED_INVOKE = "arn:aws:states:::lambda:invoke"
FUNCTION_NOT_FOUND = "Lambda.ResourceNotFoundException"
MARSHAL_ERROR = "Runtime.MarshalError"


def function_name_of(name_or_arn: str) -> str:
    """The bare function name of a name, ``name:qualifier``, partial ARN or full ARN.

    ``arn:aws:lambda:us-east-1:123456789012:function:collect-crawl:live`` -> ``collect-crawl``.
    """
    parts = name_or_arn.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def qualifier_of(name_or_arn: str) -> str | None:
    parts = name_or_arn.split(":")
    after = parts[parts.index("function") + 2 :] if "function" in parts else parts[1:]
    return after[0] if after else None


def is_lambda_arn(resource: str) -> bool:
    return resource.startswith("arn:") and resource.split(":")[2:3] == ["lambda"]


@dataclass
class LambdaContext:
    """What the Python Lambda runtime passes as ``context`` (``memory_limit_in_mb`` is a string there too)."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    memory_limit_in_mb: str = "128"
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    client_context: Any = None
    identity: Any = None
    tenant_id: str | None = None
    _deadline: float = field(default=0.0, repr=False)
    _clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))

    def log(self, message: str) -> None:
        print(message, end="")


@dataclass(frozen=True)
class LambdaRegistry:
    """Handlers by function name; keys may be names or ARNs (only the name part is matched)."""

    handlers: Mapping[str, Handler]
    region: str
    account_id: str
    memory_limit_in_mb: str = "128"

    @classmethod
    def of(cls, functions: Mapping[str, Handler], region: str, account_id: str) -> LambdaRegistry:
        return cls({function_name_of(key): handler for key, handler in functions.items()}, region, account_id)

    def invoke(
        self,
        name_or_arn: str,
        payload: Any,
        *,
        timeout_seconds: float,
        clock: Callable[[], float],
    ) -> Any:
        """Call the handler and return its JSON result, or raise the StatesError Step Functions reports."""
        name = function_name_of(name_or_arn)
        handler = self.handlers.get(name)
        if handler is None:
            known = ", ".join(sorted(self.handlers)) or "none"
            raise StatesError(FUNCTION_NOT_FOUND, f"Function not found: {name_or_arn} (registered: {known})")
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        if qualifier := qualifier_of(name_or_arn):
            arn += f":{qualifier}"
        request_id = str(uuid.uuid4())
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=arn,
            aws_request_id=request_id,
            memory_limit_in_mb=self.memory_limit_in_mb,
            _deadline=clock() + timeout_seconds,
            _clock=clock,
        )
        event = json.loads(json.dumps(payload))
        try:
            result = handler(event, context)
        except Exception as exc:
            raise StatesError(type(exc).__name__, _error_document(exc, request_id)) from exc
        try:
            return json.loads(json.dumps(result, default=_encode_decimal, allow_nan=False))
        except (TypeError, ValueError) as exc:
            cause = json.dumps(
                {
                    "errorMessage": f"Unable to marshal response: {exc}",
                    "errorType": MARSHAL_ERROR,
                    "requestId": request_id,
                    "stackTrace": [],
                }
            )
            raise StatesError(MARSHAL_ERROR, cause) from exc


def invoke_response(payload: Any) -> dict[str, Any]:
    """The result of an ``arn:aws:states:::lambda:invoke`` task (the Lambda Invoke API response)."""
    request_id = str(uuid.uuid4())
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Type": "application/json",
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def _encode_decimal(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error_document(exc: BaseException, request_id: str) -> str:
    """The runtime's error document; the stack trace starts at the handler, as awslambdaric trims it."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop this module's call frame
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_list(frames),
        }
    )
