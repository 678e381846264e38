"""`make package`: `chalice package` + the merge template, per deployed stage. The result is
cfn-lint clean, small, and contains both Chalice's resources and ours."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra import package as packaging
from infra.stages import deployed_stage_names

CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")
MIB = 1024 * 1024


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
        f"with dependency layer {total / MIB:.2f} MiB (unzipped), "
        f"their bytecode {int(packaged['bytecode_unzipped_bytes']) / MIB:.2f} MiB"
    )
    assert total < packaging.MAX_UNZIPPED_BYTES  # function code and its layer together
    names: list[str] = []
    for key in ("bundle", "layer"):
        if packaged[key]:
            with zipfile.ZipFile(packaged[key]) as archive:
                names += archive.namelist()
    tops = {n.removeprefix(packaging.LAYER_PREFIX).split("/", 1)[0] for n in names}
    assert {"app.py", "chalicelib", "chalice", "pynamodb", "jwt", "nacl", "aws_xray_sdk"} <= tops
    assert not tops & {"botocore", "boto3", "moto", "pytest", "click", "cryptography"}, tops
    assert not [n for n in names if n.startswith(("tests/", "infra/", "devstack/", ".chalice/"))]


RUNTIME_CHECK = """
import json, os, sys
sys.path[:0] = json.loads(os.environ["PACKAGE_PATH"])
try:
    import cryptography  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("cryptography is importable: the check is not isolated")
import app
import aws_xray_sdk.core  # what Powertools' Tracer loads where tracing is on
from chalicelib.authz.principal import Role
from chalicelib.auth.sessions import decode_session, issue_session
from chalicelib.identity.passwords import hash_password, verify_password
from chalicelib.tickets.markdown_render import render_markdown as render
from chalicelib.tickets.schemas import CreateTicket

session = issue_session("u-1", "org-1", Role.AGENT)
claims = decode_session(session.token)
hashed = hash_password("a long enough password")
html = render("**hi** <script>alert(1)</script> [x](javascript:alert(1))")
body = CreateTicket.model_validate({"subject": "s", "body": "b"})
print(json.dumps({
    "routes": len(app.app.routes),
    "sub": claims["sub"],
    "password": verify_password("a long enough password", hashed),
    "html": html,
    "subject": body.subject,
    "modules": sorted({m.split(".")[0] for m in sys.modules}),
    # Run with -B: nothing is written, so a module loads bytecode only if the bundle has it.
    "from_source": sorted(
        name for name, module in list(sys.modules.items())
        if (getattr(module, "__file__", None) or "").endswith(".py")
        and any(module.__file__.startswith(p) for p in json.loads(os.environ["PACKAGE_PATH"])[:2])
        and not os.path.exists(getattr(module, "__cached__", None) or "")
    ),
}))
"""


def test_the_package_runs_with_only_what_lambda_provides(
    packaged: dict[str, Any], tmp_path: Path
) -> None:
    """Unzip the function and its layer, add only the SDK the Lambda runtime provides (from this
    venv), and run the paths that need native code: Ed25519 sign/verify, bcrypt, nh3, pydantic
    (stripped extensions that did not load would fail here)."""
    task, opt, sdk = tmp_path / "task", tmp_path / "opt", tmp_path / "sdk"
    with zipfile.ZipFile(packaged["bundle"]) as archive:
        archive.extractall(task)
    with zipfile.ZipFile(packaged["layer"]) as archive:
        archive.extractall(opt)
    venv_site = Path(boto3.__file__).resolve().parent.parent
    sdk.mkdir()
    for entry in venv_site.iterdir():
        top = entry.name.removesuffix(".py")
        if top in packaging.RUNTIME_PROVIDED:
            (sdk / entry.name).symlink_to(entry)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PACKAGE_PATH": json.dumps([str(task), str(opt / packaging.LAYER_PREFIX), str(sdk)]),
        "DESKGUARD_STAGE": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-I", "-S", "-B", "-c", RUNTIME_CHECK],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["routes"] >= 19 and out["sub"] == "u-1" and out["password"] is True
    assert "<strong>hi</strong>" in out["html"]
    assert "<script" not in out["html"] and "javascript:" not in out["html"]
    assert {"nacl", "aws_xray_sdk"} <= set(out["modules"])
    assert "cryptography" not in out["modules"]
    assert out["from_source"] == []  # every module imported from the bundle had its bytecode


def test_the_bundled_bytecode_is_what_the_runtime_loads(packaged: dict[str, Any]) -> None:
    """Each module's `.pyc` next to it carries this interpreter's (python3.11's) magic number
    and the hash of the source beside it, checked at import: a stale or foreign `.pyc` would be
    ignored, and the module compiled from source on every cold start."""
    checked: dict[str, int] = {}
    for key in ("bundle", "layer"):
        with zipfile.ZipFile(packaged[key]) as archive:
            names = set(archive.namelist())
            for name in names:
                if not name.endswith(".pyc"):
                    continue
                folder, _, base = name.rpartition("__pycache__/")
                source = f"{folder}{base.split('.', 1)[0]}.py"
                assert source in names, name
                header = archive.read(name)[:16]
                assert header[:4] == importlib.util.MAGIC_NUMBER, name
                assert int.from_bytes(header[4:8], "little") == 0b11, name  # checked hash
                assert header[8:16] == importlib.util.source_hash(archive.read(source)), name
                checked[key] = checked.get(key, 0) + 1
            if key == "bundle":  # our own code compiles, every module of it
                sources = [n for n in names if n.endswith(".py")]
                ours = [n for n in sources if n == "app.py" or n.startswith("chalicelib/")]
                missing = [n for n in ours if packaging.bytecode_name(n) not in names]
                assert ours and missing == []
    assert checked.get("bundle", 0) > 0 and checked.get("layer", 0) > 0


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


SCANNER_LOGICAL_IDS = ("ScanAttachment", "RetryAttachmentScans", "RefreshAvDefinitions")


def test_only_the_scanner_functions_carry_the_clamav_layer(packaged: dict[str, Any]) -> None:
    template = json.loads(Path(packaged["template"]).read_text())
    resources = template["Resources"]
    layer = resources["ClamavLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "./clamav-layer.zip"
    assert (Path(packaged["template"]).parent / "clamav-layer.zip").is_file()
    assert resources["ScannerDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    for logical_id in SCANNER_LOGICAL_IDS:
        props = functions[logical_id]
        assert props["Layers"] == [{"Ref": "ManagedLayer"}, {"Ref": "ClamavLayer"}], logical_id
        assert props["MemorySize"] >= 2048
        assert props["EphemeralStorage"]["Size"] >= 1024
        assert props["Timeout"] >= 300
        assert props["ReservedConcurrentExecutions"] >= 1
        on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert on_failure == {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": ["ScannerDeadLetterQueue", "Arn"]},
        }
        variables = props["Environment"]["Variables"]
        assert variables["CLAMD_COMMAND"].startswith(
            "/opt/lib/ld-linux-x86-64.so.2 --library-path /opt/lib /opt/bin/clamd"
        )
        assert variables["DESKGUARD_STAGE"] == packaged["stage"]  # merged, not replaced
    others = set(functions) - set(SCANNER_LOGICAL_IDS)
    assert {"APIHandler", "DeskguardAuthorizer"} <= others
    for logical_id in others:
        layers = functions[logical_id].get("Layers", [])
        assert {"Ref": "ClamavLayer"} not in layers, logical_id
        assert "EphemeralStorage" not in functions[logical_id], logical_id


def test_scanner_with_its_layers_fits_lambdas_limit(packaged: dict[str, Any]) -> None:
    scanner = int(packaged["scanner_unzipped_bytes"])
    print(f"\nscanner function with both layers: {scanner / MIB:.1f} MiB unzipped")
    assert scanner < packaging.LAMBDA_UNZIPPED_LIMIT
    assert packaging.size_problems(packaged) == []
    with zipfile.ZipFile(packaged["scanner_layer"]) as archive:
        names = set(archive.namelist())
    assert {"bin/clamd", "bin/freshclam", "lib/ld-linux-x86-64.so.2", "lib/libc.so.6"} <= names
    assert "lib/libclamav.so.12" in names and "PACKAGES.txt" in names


def test_the_package_step_refuses_what_lambda_would_refuse() -> None:
    fits = {"unzipped_bytes": 17 * MIB, "scanner_unzipped_bytes": 120 * MIB}
    assert packaging.size_problems(fits) == []
    too_big = {**fits, "scanner_unzipped_bytes": packaging.LAMBDA_UNZIPPED_LIMIT}
    assert "scanner function" in packaging.size_problems(too_big)[0]
    api_too_big = {**fits, "unzipped_bytes": 21 * MIB}
    assert "API" in packaging.size_problems(api_too_big)[0]


def test_chalice_config_agrees_with_the_scanner_settings() -> None:
    from infra.resources import SCANNER_FUNCTIONS

    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice/config.json").read_text())
    for name, spec in SCANNER_FUNCTIONS.items():
        entry = config["lambda_functions"][name]
        assert (entry["lambda_memory_size"], entry["lambda_timeout"]) == (
            spec.memory_mb,
            spec.timeout_seconds,
        ), name
