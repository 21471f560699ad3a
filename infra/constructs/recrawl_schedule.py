"""Periodic re-crawl: EventBridge Scheduler starts the collection workflow with ``{"all_authors": true}``."""

from __future__ import annotations

from aws_cdk import Duration, TimeZone
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.common import scheduler_dead_letter_queue, scheduler_role

RECRAWL_INPUT = {"all_authors": True}  # llm_twin.collection.events.CollectionRequest


class RecrawlSchedule(Construct):
    """Exposes ``schedule``, ``role`` (scheduler execution role) and ``dead_letter_queue``.

    Disabled via context (``recrawlSchedule=disabled``) the schedule stays deployed with State DISABLED,
    so switching it back on is an in-place update.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, state_machine: sfn.IStateMachine
    ) -> None:
        super().__init__(scope, construct_id)
        cfg = config.recrawl
        # Start requests that still fail after the retries land here (with the error) for inspection.
        self.dead_letter_queue = scheduler_dead_letter_queue(
            self, "DeadLetterQueue", what="the EventBridge Scheduler schedule"
        )
        # Confused-deputy guard: only schedules of this account's default group may assume the role.
        self.role = scheduler_role(
            self,
            "Role",
            description=f"{config.prefix} recrawl schedule: start the collection workflow, dead-letter",
        )
        # The target grants exactly states:StartExecution on the state machine and sqs:SendMessage on
        # the DLQ (Scheduler delivers dead letters with the execution role).
        target = targets.StepFunctionsStartExecution(
            state_machine,
            input=scheduler.ScheduleTargetInput.from_object(RECRAWL_INPUT),
            role=self.role,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=cfg.retry_attempts,
            max_event_age=Duration.minutes(cfg.max_event_age_minutes),
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=scheduler.ScheduleExpression.expression(cfg.expression, TimeZone.of(cfg.time_zone)),
            target=target,
            enabled=cfg.enabled,
            description=f"{config.prefix}: re-crawl every author's saved links",
        )
