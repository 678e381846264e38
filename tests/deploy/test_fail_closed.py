"""Inside Lambda a misconfigured function refuses at init: one log line, then only 500s.

Each case imports `app` in a fresh interpreter with a Lambda-like environment
(`AWS_LAMBDA_FUNCTION_NAME` set) and moto's Secrets Manager, then invokes the API handler with an
API Gateway proxy event, as the Lambda runtime would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.keyring import generate_keyring_json

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import json, os, sys
from moto import mock_aws

with mock_aws():
    import boto3
    secret = os.environ.pop("TEST_SECRET_VALUE", "")
    if secret:
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=os.environ["JWT_SIGNING_KEY_SECRET_ID"], SecretString=secret
        )
    import app
    event = {
        "resource": "/api/health", "path": "/api/health", "httpMethod": "GET",
        "headers": {"Host": "api.example"}, "multiValueHeaders": {},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": "/api/health", "httpMethod": "GET",
                           "requestId": "req-1", "identity": {"sourceIp": "192.0.2.1"}},
    }
    class Context:
        aws_request_id = "req-1"
        function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api"
        def get_remaining_time_in_millis(self):
            return 29000
    response = app.app(event, Context())
    authorizer = None
    try:
        from chalicelib.api.authorizer import handle_request_authorizer
        handle_request_authorizer(
            {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:a/api/GET/api/me",
             "headers": {"Authorization": "Bearer x"}, "httpMethod": "GET"})
    except Exception as error:
        authorizer = type(error).__name__
    print("RESULT " + json.dumps({"status": response["statusCode"], "body": response["body"],
                                  "headers": response.get("headers") or {},
                                  "authorizer": authorizer}))
"""


def _run(**env: str) -> tuple[dict[str, Any], list[str]]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DESKGUARD_", "JWT_", "SECURITY_HMAC", "AWS_"))
    }
    base.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": "deskguard-dev-APIHandler",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONPATH": str(ROOT),
        }
    )
    base.update(env)
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = (done.stdout + done.stderr).splitlines()
    results = [line for line in output if line.startswith("RESULT ")]
    assert results, "\n".join(output[-30:])
    logs = [line for line in output if not line.startswith("RESULT ")]
    return json.loads(results[0][len("RESULT ") :]), logs


def _refusals(logs: list[str]) -> list[str]:
    return [line for line in logs if "configuration refused" in line]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "DESKGUARD_STAGE is not set"),
        ({"DESKGUARD_STAGE": "local"}, "DESKGUARD_STAGE is local"),
        ({"DESKGUARD_STAGE": "dev"}, "no keyring"),
        (
            {"DESKGUARD_STAGE": "dev", "JWT_SIGNING_KEY_SECRET_ID": "deskguard-dev-signing-keys"},
            "the keyring could not be loaded (ResourceNotFoundException)",
        ),
        (
            {
                "DESKGUARD_STAGE": "dev",
                "JWT_SIGNING_KEY_SECRET_ID": "deskguard-dev-signing-keys",
                "TEST_SECRET_VALUE": json.dumps(
                    {k: v for k, v in json.loads(generate_keyring_json()).items() if k != "hmac"}
                ),
            },
            "no keyed-hash key",
        ),
        (
            {
                "DESKGUARD_STAGE": "dev",
                "JWT_SIGNING_KEY_SECRET_ID": "deskguard-dev-signing-keys",
                "TEST_SECRET_VALUE": generate_keyring_json(),
                "ALLOWED_ORIGINS": "https://app.example,*",
            },
            "ALLOWED_ORIGINS: '*' is not an exact origin",
        ),
        (
            {
                "DESKGUARD_STAGE": "dev",
                "JWT_SIGNING_KEY_SECRET_ID": "deskguard-dev-signing-keys",
                "TEST_SECRET_VALUE": generate_keyring_json(),
                "ALLOWED_ORIGINS": "http://app.example",
            },
            "ALLOWED_ORIGINS: 'http://app.example': a deployed stage allows only https origins",
        ),
    ],
    ids=[
        "no-stage",
        "local-stage",
        "no-secret-id",
        "missing-secret",
        "no-hmac-key",
        "wildcard-origin",
        "plain-http-origin",
    ],
)
def test_misconfigured_lambda_refuses_at_init(env: dict[str, str], problem: str) -> None:
    result, logs = _run(**env)
    assert result["status"] == 500
    assert json.loads(result["body"]) == {
        "error": {"code": "INTERNAL", "message": "An internal error occurred."}
    }
    assert result["headers"]["X-Content-Type-Options"] == "nosniff"
    # The authorizer refuses too (API Gateway answers its AUTHORIZER_FAILURE 500).
    assert result["authorizer"] == "ConfigurationRefused"
    refusals = _refusals(logs)
    assert len(refusals) == 1, logs
    assert problem in refusals[0]
    assert "Traceback" not in "\n".join(logs)


def test_a_complete_deployed_configuration_serves() -> None:
    result, logs = _run(
        DESKGUARD_STAGE="dev",
        JWT_SIGNING_KEY_SECRET_ID="deskguard-dev-signing-keys",
        TEST_SECRET_VALUE=generate_keyring_json(),
        ALLOWED_ORIGINS="https://app.example,https://admin.example:8443",
    )
    assert result["status"] == 200, result
    assert result["authorizer"] == "AuthorizerDenied"  # a bad token, judged normally
    assert _refusals(logs) == []
