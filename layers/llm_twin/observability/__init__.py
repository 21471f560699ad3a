"""Powertools objects shared by every handler (created without I/O; configured by POWERTOOLS_* env)."""

from __future__ import annotations

import logging
import sys

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "LlmTwin"

# stderr: Lambda sends both streams to CloudWatch, and locally stdout stays free for CLI output.
logger = Logger(service="llm-twin", logger_handler=logging.StreamHandler(sys.stderr))
tracer = Tracer(service="llm-twin")
metrics = Metrics(namespace=NAMESPACE, service="llm-twin")
