"""Deployment: the CloudFormation resources Chalice does not create, built from the code's own
registries (tables, buckets, gateway responses, headers), and the per-function IAM policies.

`make generate` (`infra.generate`) writes every committed generated file; `make package STAGE=dev`
builds the merge template and runs `chalice package`; see docs/deploy.md. The operator commands
(stages, signing keys) are `python -m cli`; the modules here hold their logic.
"""
