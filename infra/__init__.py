"""Deployment: the CloudFormation resources Chalice does not create, built from the code's own
registries (tables, buckets, gateway responses, headers), and the per-function IAM policies.

`python -m infra.template --stage dev` (what `make template` runs) writes the merge template and
the policy files; `make package STAGE=dev` merges it with `chalice package`; see docs/deploy.md.
"""
