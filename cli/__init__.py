"""`python -m cli`: Deskguard's admin command line (bootstrap organizations, issue API tokens).

Runs on an operator's machine against the local stack (`--endpoint-url`) or a real AWS account
(the usual AWS credentials and `DESKGUARD_STAGE`); never packaged into the Lambda bundle.
"""
