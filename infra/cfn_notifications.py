"""Ticket notifications in the merge template: the notifications queue and its dead-letter queue
(with an alarm on anything dead-lettered), the event source mapping from the webhooks table's
stream to the router (`chalicelib.notifications.router.STREAM_FILTER`: new outbox events) with
its lag alarm, and the mapping from the queue to the sender.

The sender reports partial batch failures (`ReportBatchItemFailures`): only the notices whose
send failed go back to the queue, and after `MAX_RECEIVE_COUNT` receives SQS moves them to the
dead-letter queue (kept 14 days). The router's failing stream batch is retried, bisected, then
skipped after a few attempts; its lag alarm says when it falls behind.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Chalice

from chalicelib.core.settings import Settings
from chalicelib.notifications.queue import (
    MAX_RECEIVE_COUNT,
    SQS_BATCH,
    VISIBILITY_TIMEOUT_SECONDS,
    dead_letter_queue_name,
)
from chalicelib.notifications.router import STREAM_FILTER
from infra.resources import (
    NOTIFICATIONS_DLQ,
    NOTIFICATIONS_QUEUE,
    NOTIFICATIONS_ROUTER_FUNCTION,
    NOTIFICATIONS_SENDER_FUNCTION,
    app_functions,
    function_logical_id,
)

NOTIFICATIONS_STREAM_BATCH_SIZE = 25
NOTIFICATIONS_STREAM_RETRIES = 5
NOTIFICATIONS_STREAM_MAX_AGE_MS = 300_000
DEAD_LETTER_RETENTION_SECONDS = 14 * 86400


def notification_data_resources(settings: Settings) -> dict[str, Any]:
    """The queue, its dead-letter queue and the dead-letter alarm (no function needed)."""
    return {
        NOTIFICATIONS_DLQ: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": dead_letter_queue_name(settings.notifications_queue),
                "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
            },
        },
        NOTIFICATIONS_QUEUE: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": settings.notifications_queue,
                "VisibilityTimeout": VISIBILITY_TIMEOUT_SECONDS,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [NOTIFICATIONS_DLQ, "Arn"]},
                    "maxReceiveCount": MAX_RECEIVE_COUNT,
                },
            },
        },
        f"{NOTIFICATIONS_DLQ}Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": "Ticket notifications failed to send after their retries",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [
                    {
                        "Name": "QueueName",
                        "Value": {"Fn::GetAtt": [NOTIFICATIONS_DLQ, "QueueName"]},
                    }
                ],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlarmTopic"}],
            },
        },
    }


def notification_wiring(app: Chalice, settings: Settings) -> dict[str, Any]:
    """The queues, the stream -> router and queue -> sender mappings, the router's lag alarm
    (the mappings only for the functions the app has)."""
    resources = notification_data_resources(settings)
    functions = app_functions(app)
    if NOTIFICATIONS_ROUTER_FUNCTION in functions:
        router = function_logical_id(NOTIFICATIONS_ROUTER_FUNCTION)
        resources["NotificationRouterStream"] = router_stream_mapping({"Ref": router})
        resources["NotificationRouterLagAlarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": "Ticket notifications are behind the webhooks table's stream",
                "Namespace": "AWS/Lambda",
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": router}}],
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 5,
                "Threshold": NOTIFICATIONS_STREAM_MAX_AGE_MS,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlarmTopic"}],
            },
        }
    if NOTIFICATIONS_SENDER_FUNCTION in functions:
        resources["NotificationSenderQueue"] = sender_queue_mapping(
            {"Ref": function_logical_id(NOTIFICATIONS_SENDER_FUNCTION)}
        )
    return resources


def router_stream_mapping(function: Any) -> dict[str, Any]:
    """The webhooks table's stream -> `function` (the router), new outbox events only."""
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["WebhooksTable", "StreamArn"]},
            "FunctionName": function,
            "StartingPosition": "LATEST",
            "BatchSize": NOTIFICATIONS_STREAM_BATCH_SIZE,
            "MaximumBatchingWindowInSeconds": 1,
            "MaximumRetryAttempts": NOTIFICATIONS_STREAM_RETRIES,
            "BisectBatchOnFunctionError": True,
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps(STREAM_FILTER, sort_keys=True)}]},
        },
    }


def sender_queue_mapping(function: Any) -> dict[str, Any]:
    """The notifications queue -> `function` (the sender), reporting partial batch failures."""
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "EventSourceArn": {"Fn::GetAtt": [NOTIFICATIONS_QUEUE, "Arn"]},
            "FunctionName": function,
            "BatchSize": SQS_BATCH,
            "MaximumBatchingWindowInSeconds": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    }
