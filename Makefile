# Deskguard: `make run` starts the local stack, `make test` runs every check CI runs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests and the local stack need: ClamAV (clamd is in clamav-daemon,
# clamdscan for the bench, sigtool/clamscan in clamav, freshclam in clamav-freshclam), bubblewrap
# (the scanner layer's sandbox test), curl (headers smoke test), binutils (stripping the package's
# native extensions), dpkg-dev tools come with apt itself (`apt-get download`, `dpkg-deb`).
APT_PACKAGES := clamav clamav-daemon clamdscan clamav-freshclam bubblewrap curl binutils

.PHONY: run test lint imports typecheck unit venv system-deps bench generate clean \
	template package scanner-layer deploy stage audit secrets-baseline keys \
	infra post-deploy

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3-venv missing; installing it with apt-get"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && \
	  $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

# system-deps: the scanner's clamd (the start banner says when scanning is off, and why).
# PERSIST=1 keeps the local data across restarts (.local/state/); see README.md.
run: venv system-deps
	PERSIST=$(PERSIST) $(PY) -m devstack

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The layer contracts in pyproject.toml (docs/architecture.md): no upward import, no cycle.
imports: venv
	$(VENV)/bin/lint-imports

typecheck: venv
	$(VENV)/bin/mypy

test: venv system-deps lint imports typecheck audit
	$(VENV)/bin/pytest

bench: venv
	$(PY) bench/run_all.py --write docs/performance.md
	$(PY) bench/scan.py
	$(PY) bench/security_ops.py
	$(PY) bench/audit.py

# Every generated file: OpenAPI, observability JSON, the rate-limit doc, IAM policies (a test
# fails if any is stale).
generate: venv
	$(PY) -m infra.generate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .local build

# --- Deploy (docs/deploy.md) --------------------------------------------------------------
STAGE ?= dev
STACK ?= deskguard-$(STAGE)
BUILD := build/$(STAGE)/package

# Every deployed stage's merge template (build/<stage>/merge-template.json, a build artifact for
# review; `make package` writes its stage's own). The committed files it reads come from `generate`.
template: generate
	$(PY) -m infra.template

# The ClamAV layer of the scanner functions, from Debian's packages (infra/scanner_layer.py):
# build/scanner-layer/clamav-layer.zip. Needs apt (apt-get download, apt-cache, dpkg-deb) and
# readelf (binutils).
scanner-layer: venv system-deps
	$(PY) -m infra.scanner_layer

# `chalice package` + the merge template + the scanner layer for one stage (network: PyPI and
# the Debian archive). Fails when a function with its layers exceeds Lambda's 250 MB unzipped.
package: venv scanner-layer
	$(PY) -m infra.package --stage $(STAGE)

# Needs AWS credentials for the target account, the aws CLI, and ARTIFACTS_BUCKET (an existing
# private bucket for the code bundle). Idempotent: re-run it to update a stage.
deploy: package
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "set ARTIFACTS_BUCKET=<bucket for code artifacts>"; exit 2; }
	aws cloudformation package --template-file $(BUILD)/sam.json \
	  --s3-bucket $(ARTIFACTS_BUCKET) --s3-prefix $(STACK) \
	  --output-template-file $(BUILD)/packaged.json --use-json
	aws cloudformation deploy --template-file $(BUILD)/packaged.json --stack-name $(STACK) \
	  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
	  --tags deskguard:stage=$(STAGE)
	$(PY) -m cli keys init --stage $(STAGE)
	aws cloudformation describe-stacks --stack-name $(STACK) \
	  --query "Stacks[0].Outputs[?OutputKey=='EndpointURL'].OutputValue" --output text

# The chalice-deploy path (docs/deploy.md): the stage's data stack `deskguard-<stage>-data`
# (tables, buckets, secret, KMS keys, queue, bus, alarms, log groups), its keyring, then the
# stage's resolved policy files and function settings in .chalice/. Then
# `chalice deploy --stage <stage>` and `make post-deploy STAGE=<stage>`. ARTIFACTS_BUCKET: the
# data template is over CloudFormation's 51,200-byte inline limit.
infra: venv
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "set ARTIFACTS_BUCKET=<bucket for templates and layers>"; exit 2; }
	$(PY) -m infra.data_stack --stage $(STAGE) --artifacts-bucket $(ARTIFACTS_BUCKET)
	$(PY) -m cli keys init --stage $(STAGE)
	$(PY) -m infra.chalice_stage --stage $(STAGE)

# After every `chalice deploy --stage <stage>`: Gateway Responses, the REQUEST authorizer, stage
# throttling, the ClamAV layer and the scanner's settings, the upload and audit-stream triggers.
# Idempotent: a second run prints "nothing to change".
post-deploy: venv scanner-layer
	$(PY) -m infra.post_deploy --stage $(STAGE) $(if $(ARTIFACTS_BUCKET),--artifacts-bucket $(ARTIFACTS_BUCKET))

# Add a per-tenant stage to .chalice/config.json, then build its merge template to check it:
# make stage TENANT=acme
stage: venv
	@test -n "$(TENANT)" || { echo "usage: make stage TENANT=<name>"; exit 2; }
	$(PY) -m cli stages new $(TENANT)
	$(PY) -m infra.template --stage $(TENANT)

# Signing-key commands for a deployed stage: make keys STAGE=prod CMD="add"
# (`python -m cli keys --help` lists them).
keys: venv
	@test -n "$(CMD)" || { echo 'usage: make keys STAGE=<stage> CMD="init|add|activate KID|retire KID|show"'; exit 2; }
	$(PY) -m cli keys $(CMD) --stage $(STAGE)

# Release checks: bandit (no high findings), secret scan, pip-audit.
audit: venv
	$(PY) -m infra.release_checks

# After reviewing a flagged string as a false positive: record it in the baseline.
secrets-baseline: venv
	$(VENV)/bin/detect-secrets scan --baseline .secrets.baseline
