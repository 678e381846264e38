"""The webhook delivery function's wiring in the merge template: the event source mapping from
the webhooks table's stream (`chalicelib.webhooks.delivery.STREAM_FILTER`: new outbox events
and deliveries) and an alarm on the stream's iterator age.

A failing batch is retried a few times, then skipped: nothing is lost, because every event and
delivery stays in the table's `by_due` queue until it is done, and `retry_webhook_deliveries`
drains that queue every minute.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Chalice

from chalicelib.webhooks.delivery import STREAM_FILTER
from infra.resources import WEBHOOK_DELIVERY_FUNCTION, app_functions, function_logical_id

WEBHOOK_STREAM_BATCH_SIZE = 25
WEBHOOK_STREAM_RETRIES = 2
WEBHOOK_STREAM_MAX_AGE_MS = 300_000


def webhook_delivery_wiring(app: Chalice) -> dict[str, Any]:
    """The stream -> delivery function mapping and its lag alarm (none without the function)."""
    if WEBHOOK_DELIVERY_FUNCTION not in app_functions(app):
        return {}
    function = function_logical_id(WEBHOOK_DELIVERY_FUNCTION)
    return {
        "WebhookDeliveryStream": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["WebhooksTable", "StreamArn"]},
                "FunctionName": {"Ref": function},
                "StartingPosition": "LATEST",
                "BatchSize": WEBHOOK_STREAM_BATCH_SIZE,
                "MaximumBatchingWindowInSeconds": 1,
                "MaximumRetryAttempts": WEBHOOK_STREAM_RETRIES,
                "BisectBatchOnFunctionError": True,
                "FilterCriteria": {
                    "Filters": [{"Pattern": json.dumps(STREAM_FILTER, sort_keys=True)}]
                },
            },
        },
        "WebhookDeliveryLagAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": "Webhook delivery is behind the webhooks table's stream",
                "Namespace": "AWS/Lambda",
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function}}],
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 5,
                "Threshold": WEBHOOK_STREAM_MAX_AGE_MS,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlarmTopic"}],
            },
        },
    }
