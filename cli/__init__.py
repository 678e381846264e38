"""`python -m cli`: Deskguard's one operator command line.

Groups: `tenants` (organizations and their first admin, tables), `tokens` (API tokens,
revocation), `audit` (hash-chain verification), `security-events` (Logs Insights queries),
`stages` (per-tenant stages in `.chalice/config.json`) and `keys` (a stage's signing keys).
Each command module here only parses arguments and prints; the work is done by `chalicelib`
(the same code the API runs) and by `infra` (stage config, the signing-key secret, log queries).
Runs on an operator's machine against the local stack (`--endpoint-url`) or a real AWS account;
never packaged into the Lambda bundle.
"""
