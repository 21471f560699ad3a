"""API alarms (to the existing alarm topic) and one CloudWatch dashboard over every pipeline.

Alarms: API 5xx rate, API latency p95, requests throttled by API Gateway (429, counted from the access
logs: the ``4XXError`` metric also counts missing keys and bad requests), throttled Lambda invocations
and 5xx errors of the SageMaker LMI endpoint. Like the feature pipeline's alarms they evaluate one
period, notify on ALARM and OK, and treat missing data as not breaching (an idle API is healthy).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.api import Api
from infra.constructs.feature_indexer import FeatureIndexer
from infra.constructs.function import POWERTOOLS_METRICS_NAMESPACE

FIVE_MINUTES = Duration.minutes(5)
SERVER_ERROR_RATE = 0.05  # 5XXError Average = the fraction of requests answered with a 5xx
THROTTLED_METRIC = "ApiThrottledRequests"  # from the access logs' status 429
WIDTH = 8  # three graphs per dashboard row (24 columns)


class ApiMonitoring(Construct):
    """Exposes ``alarms`` (by construct id), ``dashboard``, ``dashboard_name`` and ``throttled_filter``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        api: Api,
        topic: sns.ITopic,
        indexer: FeatureIndexer,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self._topic = topic
        self.alarms: dict[str, cw.Alarm] = {}
        stage, function = api.stage, api.handler.function
        self.throttled_filter = logs.MetricFilter(
            self,
            "ThrottledRequests",
            log_group=api.access_logs,
            filter_pattern=logs.FilterPattern.string_value("$.status", "=", "429"),
            metric_namespace=POWERTOOLS_METRICS_NAMESPACE,
            metric_name=THROTTLED_METRIC,
            metric_value="1",
        )
        throttled = self.throttled_filter.metric(statistic="Sum", period=FIVE_MINUTES)
        lmi = {"EndpointName": config.lmi_endpoint_name, "VariantName": config.api.lmi_variant_name}

        def sagemaker(name: str, statistic: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map=lmi,
                statistic=statistic,
                period=FIVE_MINUTES,
            )

        gt = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        ge = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        self._alarm(
            "Api5xxRate",
            stage.metric_server_error(statistic="Average", period=FIVE_MINUTES),
            SERVER_ERROR_RATE,
            gt,
            f"API: more than {SERVER_ERROR_RATE:.0%} of requests answered 5xx (handler errors, Lambda "
            "timeouts, 504 integration timeouts).",
        )
        self._alarm(
            "ApiLatencyP95",
            stage.metric_latency(statistic="p95", period=FIVE_MINUTES),
            config.api.latency_alarm_ms,
            gt,
            f"API: p95 latency above {config.api.latency_alarm_ms} ms (LMI generation, retrieval, cold "
            "starts); the integration times out at "
            f"{config.api.integration_timeout_seconds} s.",
        )
        self._alarm(
            "ApiThrottled",
            throttled,
            1,
            ge,
            "API: requests refused with 429 (usage plan rate/burst, monthly quota or stage throttling).",
        )
        self._alarm(
            "FunctionThrottles",
            function.metric_throttles(statistic="Sum", period=FIVE_MINUTES),
            1,
            ge,
            "API function: invocations throttled (the account's Lambda concurrency is exhausted).",
        )
        self._alarm(
            "LmiEndpointErrors",
            sagemaker("Invocation5XXErrors", "Sum"),
            1,
            ge,
            f"LMI endpoint {config.lmi_endpoint_name}: invocations failed with 5xx (model or container "
            "errors; RAG and drafts fail).",
        )

        self.dashboard_name = f"{config.prefix}-overview"
        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=self.dashboard_name, default_interval=Duration.days(1)
        )

        def graph(
            title: str, left: list[cw.IMetric], right: list[cw.IMetric] | None = None
        ) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=left, right=right or [], width=WIDTH, height=6)

        dlq = indexer.dead_letter_queue
        self.dashboard.add_widgets(
            graph(
                "API requests",
                [
                    stage.metric_count(statistic="Sum", period=FIVE_MINUTES),
                    stage.metric_client_error(statistic="Sum", period=FIVE_MINUTES),
                    stage.metric_server_error(statistic="Sum", period=FIVE_MINUTES),
                ],
                [throttled],
            ),
            graph(
                "API latency (ms)",
                [
                    stage.metric_latency(statistic="p50", period=FIVE_MINUTES),
                    stage.metric_latency(statistic="p95", period=FIVE_MINUTES),
                    stage.metric_integration_latency(statistic="p95", period=FIVE_MINUTES),
                ],
            ),
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=WIDTH, height=6),
        )
        self.dashboard.add_widgets(
            graph(
                "API function",
                [
                    function.metric_errors(statistic="Sum", period=FIVE_MINUTES),
                    function.metric_throttles(statistic="Sum", period=FIVE_MINUTES),
                ],
                [function.metric("ConcurrentExecutions", statistic="Maximum", period=FIVE_MINUTES)],
            ),
            graph(
                "API function duration (ms)",
                [
                    function.metric_duration(statistic="p50", period=FIVE_MINUTES),
                    function.metric_duration(statistic="p95", period=FIVE_MINUTES),
                ],
            ),
            graph(
                "LMI endpoint",
                [sagemaker("Invocations", "Sum"), sagemaker("Invocation5XXErrors", "Sum")],
                [sagemaker("ModelLatency", "p95")],  # microseconds
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Feature pipeline",
                [indexer.indexer.function.metric("IteratorAge", statistic="Maximum", period=FIVE_MINUTES)],
                [dlq.metric_approximate_number_of_messages_visible(statistic="Maximum", period=FIVE_MINUTES)],
            ),
            graph(
                "Collection executions",
                [
                    state_machine.metric_failed(statistic="Sum", period=FIVE_MINUTES),
                    state_machine.metric_succeeded(statistic="Sum", period=FIVE_MINUTES),
                ],
            ),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cw.IMetric,
        threshold: float,
        comparison: cw.ComparisonOperator,
        description: str,
    ) -> None:
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # idle = healthy
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self._topic))
        alarm.add_ok_action(actions.SnsAction(self._topic))
        self.alarms[construct_id] = alarm
