"""Alarms and where they notify: an encrypted SNS topic (+ optional email) and the feature pipeline's alarms.

CloudWatch publishes alarm notifications as the service principal ``cloudwatch.amazonaws.com``; an
SNS topic encrypted with the AWS managed key (aws/sns) cannot grant it, so the topic has its own
customer-managed key whose policy lets CloudWatch use it.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.feature_indexer import TIMEOUT as INDEXER_TIMEOUT
from infra.constructs.feature_indexer import FeatureIndexer
from infra.constructs.vector_index import VectorIndex

FREE_STORAGE_FRACTION = 0.25  # AWS recommended alarm: FreeStorageSpace <= 25% of a node's volume


class Monitoring(Construct):
    """Exposes ``topic``, ``key`` and ``alarms`` (by construct id); ``alarm(...)`` adds one that notifies
    the topic when it fires and when it recovers."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        # Notifications are transient: the key is not retained with the data.
        self.key = kms.Key(
            self,
            "Key",
            description=f"{config.prefix}: encrypts the alarm notification topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        self.topic = sns.Topic(self, "Topic", display_name=f"{config.prefix} alarms", master_key=self.key)
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}

    def alarm(
        self,
        construct_id: str,
        *,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
        scope: Construct | None = None,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            scope or self,
            construct_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,  # idle = healthy
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[construct_id] = alarm
        return alarm


class FeaturePipelineAlarms(Construct):
    """DLQ not empty, stream iterator age, indexer errors, domain red / writes blocked / storage low."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        monitoring: Monitoring,
        indexer: FeatureIndexer,
        vector_index: VectorIndex,
    ) -> None:
        super().__init__(scope, construct_id)
        gt = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        ge = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        le = cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD
        five_minutes, one_minute = Duration.minutes(5), Duration.minutes(1)
        function = indexer.indexer.function
        domain = vector_index.domain
        # One attempt may legitimately take a whole timeout; two means a stuck or lagging shard.
        iterator_age_ms = 2 * INDEXER_TIMEOUT.to_milliseconds()
        free_storage_mb = config.vector.ebs_gb * 1024 * FREE_STORAGE_FRACTION

        def add(
            construct_id: str,
            metric: cloudwatch.IMetric,
            threshold: float,
            comparison: cloudwatch.ComparisonOperator,
            description: str,
        ) -> None:
            monitoring.alarm(
                construct_id,
                metric=metric,
                threshold=threshold,
                comparison=comparison,
                description=description,
                scope=self,
            )

        add(
            "DeadLetterQueueNotEmpty",
            indexer.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=five_minutes, statistic="Maximum"
            ),
            0,
            gt,
            "Feature indexer: stream batches failed after all retries (SQS on-failure queue). Re-index "
            "the documents named by the messages' sequence numbers from the warehouse.",
        )
        add(
            "IteratorAge",
            function.metric("IteratorAge", period=five_minutes, statistic="Maximum"),
            iterator_age_ms,
            gt,
            "Feature indexer: the oldest unprocessed stream record is older than two function timeouts "
            "(the index lags the warehouse; records expire from the stream after 24 h).",
        )
        add(
            "Errors",
            function.metric_errors(period=five_minutes, statistic="Sum"),
            1,
            ge,
            "Feature indexer: invocations failed (crash or timeout); per-record failures are reported "
            "as batchItemFailures and end in the DLQ alarm instead.",
        )
        add(
            "ClusterStatusRed",
            domain.metric_cluster_status_red(period=one_minute, statistic="Maximum"),
            1,
            ge,
            "Vector index: at least one primary shard is unassigned (searches and indexing fail).",
        )
        add(
            "ClusterIndexWritesBlocked",
            domain.metric_cluster_index_writes_blocked(period=five_minutes, statistic="Maximum"),
            1,
            ge,
            "Vector index: the domain blocks writes (storage or JVM memory pressure); indexing fails.",
        )
        add(
            "FreeStorageSpaceLow",
            domain.metric_free_storage_space(period=one_minute, statistic="Minimum"),
            free_storage_mb,
            le,
            f"Vector index: a data node has <= {FREE_STORAGE_FRACTION:.0%} of its "
            f"{config.vector.ebs_gb} GiB volume free (raise -c vectorEbsGb).",
        )
