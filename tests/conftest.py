"""The suite's environment, fixed before anything imports `chalicelib` (settings are read once),
and the suite-wide plugins.

Fixtures live with the tests that use them: `tests/integration`, `tests/security` and
`tests/deploy` run each test in its own moto account (their `conftest.py`); `tests/unit` has no
AWS at all; `tests/e2e` talks to the local stack over HTTP.
"""

from __future__ import annotations

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "test",
        "BCRYPT_ROUNDS": "4",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Deskguard",
        "POWERTOOLS_DEV": "false",
    }
)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "JWT_SIGNING_KEY_SECRET_ID"):
    os.environ.pop(_name, None)

# The log audit collects every log line of the run and checks it at the end; the AWS-call recorder
# records each call a Lambda function makes, for the IAM policy check in tests/deploy.
pytest_plugins = ["tests.support.logcheck", "tests.support.aws_calls"]
