"""`make package`: `chalice package` + the merge template, per deployed stage. The result is
cfn-lint clean, small, and contains both Chalice's resources and ours."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infra import package as packaging
from infra.stages import deployed_stage_names

CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")
MIB = 1024 * 1024
# Function code and its shared dependency layer together (cryptography alone is ~14 MiB).
MAX_TOTAL_BYTES = 32 * MIB


@pytest.fixture(scope="module", params=deployed_stage_names())
def packaged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    stage = request.param
    return packaging.package(stage, tmp_path_factory.mktemp(stage) / "package")


def _lint(template: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own venv's cfn-lint on a temp file
        [CFN_LINT, "--format", "parseable", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_package_is_small_and_leaves_out_the_runtime_sdk(packaged: dict[str, Any]) -> None:
    function_bytes = int(packaged["function_unzipped_bytes"])
    total = int(packaged["unzipped_bytes"])
    print(
        f"\n{packaged['stage']}: function bundle {function_bytes / MIB:.2f} MiB, "
        f"with dependency layer {total / MIB:.2f} MiB (unzipped)"
    )
    assert function_bytes < packaging.MAX_UNZIPPED_BYTES
    assert total < MAX_TOTAL_BYTES
    names: list[str] = []
    for key in ("bundle", "layer"):
        if packaged[key]:
            with zipfile.ZipFile(packaged[key]) as archive:
                names += archive.namelist()
    tops = {n.removeprefix(packaging.LAYER_PREFIX).split("/", 1)[0] for n in names}
    assert {"app.py", "chalicelib", "chalice", "pynamodb", "jwt"} <= tops
    assert not tops & {"botocore", "boto3", "moto", "pytest", "click"}, tops
    assert not [n for n in names if n.startswith(("tests/", "infra/", "devstack/", ".chalice/"))]


def test_merged_template_is_cfn_lint_clean(packaged: dict[str, Any]) -> None:
    result = _lint(Path(packaged["template"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_merged_template_has_chalice_and_infra_resources(packaged: dict[str, Any]) -> None:
    template = json.loads(Path(packaged["template"]).read_text())
    resources = template["Resources"]
    for name in ("APIHandler", "DeskguardAuthorizer", "RestAPI", "ApiHandlerRole", "ManagedLayer"):
        assert name in resources, name
    for name in ("IdentityTable", "AuditTable", "UploadsBucket", "SigningKeySecret", "DataKey"):
        assert name in resources, name
    api = resources["RestAPI"]["Properties"]
    assert api["EndpointConfiguration"] == "REGIONAL"
    body = api["DefinitionBody"]
    assert "x-amazon-apigateway-gateway-responses" in body
    assert body["paths"]  # Chalice's routes survived the merge
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            variables = resource["Properties"]["Environment"]["Variables"]
            assert variables["DESKGUARD_STAGE"] == packaged["stage"], logical_id
            assert variables["HSTS_ENABLED"] == "true"
            group = resources[logical_id.replace("APIHandler", "ApiHandler") + "LogGroup"]
            assert group["Properties"]["RetentionInDays"] >= 30
            assert group["Properties"]["LogGroupName"] == {
                "Fn::Sub": f"/aws/lambda/${{{logical_id}}}"
            }
    for role in (r for r in resources.values() if r["Type"] == "AWS::IAM::Role"):
        for policy in role["Properties"]["Policies"]:
            assert policy["PolicyDocument"]["Statement"]  # our files, not autogen


def test_lint_catches_a_broken_template(packaged: dict[str, Any], tmp_path: Path) -> None:
    """The lint step is real: a dangling reference in the merged template fails it."""
    template = json.loads(Path(packaged["template"]).read_text())
    template["Resources"]["IdentityTable"]["Properties"]["SSESpecification"]["KMSMasterKeyId"] = {
        "Ref": "NoSuchKey"
    }
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(template))
    result = _lint(broken)
    assert result.returncode != 0 and "NoSuchKey" in result.stdout
