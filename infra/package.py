"""`make package STAGE=<stage>`: the deployable CloudFormation template and code bundle.

1. generate the merge template for the stage (and check every committed generated file is current);
2. run `chalice package --stage <stage> --merge-template ...` with the stage's environment
   exported, because the app reads settings at import (the authorizer's cache ttl, and any
   bucket name a decorator takes) while Chalice builds the API definition;
3. slim the bundle and the dependency layer: drop the AWS SDK (the Lambda Python runtime ships
   boto3/botocore and their dependencies; bundling them would add ~33 MiB of cold-start download
   for no gain) and strip debug sections from native extensions (`strip --strip-debug`); and add
   the bytecode of every module (`__pycache__/*.cpython-311.pyc`, hash-checked against its
   source): Lambda's code directory is read-only, so a bundle without bytecode compiles every
   module it imports from source on every cold start;
4. add the ClamAV layer (`infra.scanner_layer`, built if missing) that only the scanner
   functions carry;
5. report the unzipped sizes and fail when the API bundle with its dependency layer reaches
   20 MiB (sources; their bytecode is reported beside them), or a scanner function with both
   layers reaches Lambda's 250 MB unzipped limit.

Output: `build/<stage>/package/{sam.json,deployment.zip,layer-deployment.zip,clamav-layer.zip}`,
ready for `aws cloudformation package`
and `deploy` (see docs/deploy.md and `make deploy`).
"""

from __future__ import annotations

import argparse
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from infra import generate, scanner_layer, stages
from infra.resources import SCANNER_LAYER_ZIP
from infra.template import BUILD_DIR, ROOT, write_template

# Top-level names the Lambda Python runtime already provides (boto3 and its dependencies).
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "python_dateutil", "six", "urllib3"}
)
MAX_UNZIPPED_BYTES = 20 * 1024 * 1024
# Lambda: a function's code and all its layers, unzipped, at most 250 MB.
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


LAYER_PREFIX = "python/lib/python3.11/site-packages/"
# The bytecode the functions' runtime (python3.11) loads; another interpreter's would be ignored.
RUNTIME_CACHE_TAG = "cpython-311"


def _provided(name: str) -> bool:
    top = name.removeprefix(LAYER_PREFIX).split("/", 1)[0]
    if top.endswith(".dist-info"):
        return top.split("-", 1)[0].lower() in RUNTIME_PROVIDED
    return top.removesuffix(".py") in RUNTIME_PROVIDED


def _strip_debug_info(data: bytes, workdir: Path) -> bytes:
    """The shared object without its debug sections (code and symbols untouched)."""
    strip = shutil.which("strip")
    if strip is None:
        raise SystemExit("`strip` not found: install binutils (`make system-deps` does)")
    path = workdir / "object.so"
    path.write_bytes(data)
    subprocess.run([strip, "--strip-debug", str(path)], check=True)  # noqa: S603 - fixed argv
    return path.read_bytes()


def _is_shared_object(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.endswith(".so") or ".so." in base


def _bytecode(source: bytes, name: str, workdir: Path) -> bytes | None:
    """The `.pyc` of a module's source, checked against the source's hash when imported (zip
    timestamps do not survive reliably, a hash does); None if it does not compile (a template or
    a Python 2 leftover in a wheel: Python then reads the source, as it does today)."""
    path, compiled = workdir / "module.py", workdir / "module.pyc"
    path.write_bytes(source)
    try:
        py_compile.compile(
            str(path),
            cfile=str(compiled),
            dfile=name,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
    except py_compile.PyCompileError:
        return None
    return compiled.read_bytes()


def bytecode_name(name: str) -> str:
    """Where the interpreter looks for the bytecode of the module `name` (a path in the zip)."""
    folder, _, base = name.rpartition("/")
    cached = f"__pycache__/{base.removesuffix('.py')}.{RUNTIME_CACHE_TAG}.pyc"
    return f"{folder}/{cached}" if folder else cached


def slim(zip_path: Path) -> list[str]:
    """Rewrite the zip without the runtime-provided packages, with the debug sections of its
    native extensions stripped (wheels ship some with their build's debug info: libsodium's is
    4.7 MiB of PyNaCl's 5.3) and with the runtime's bytecode of every module (when this
    interpreter is the runtime's version). Returns the dropped top-level names."""
    compile_bytecode = sys.implementation.cache_tag == RUNTIME_CACHE_TAG
    dropped: set[str] = set()
    tmp = zip_path.with_suffix(".tmp")
    with (
        tempfile.TemporaryDirectory() as workdir,
        zipfile.ZipFile(zip_path) as source,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if _provided(info.filename):
                dropped.add(info.filename.removeprefix(LAYER_PREFIX).split("/", 1)[0])
                continue
            if info.filename.endswith(".pyc"):
                continue  # whatever bytecode the build left behind; fresh bytecode is added
            data = source.read(info)
            if _is_shared_object(info.filename):
                data = _strip_debug_info(data, Path(workdir))
            target.writestr(info, data)
            if compile_bytecode and info.filename.endswith(".py"):
                pyc = _bytecode(data, info.filename, Path(workdir))
                if pyc is not None:
                    cached = zipfile.ZipInfo(bytecode_name(info.filename), info.date_time)
                    cached.external_attr = info.external_attr
                    cached.compress_type = zipfile.ZIP_DEFLATED
                    target.writestr(cached, pyc)
    tmp.replace(zip_path)
    return sorted(dropped)


def unzipped_size(zip_path: Path, *, bytecode: bool = True) -> int:
    """The unzipped bytes of the archive; `bytecode=False` leaves out the `.pyc` files."""
    with zipfile.ZipFile(zip_path) as archive:
        return sum(
            info.file_size
            for info in archive.infolist()
            if bytecode or not info.filename.endswith(".pyc")
        )


def size_problems(summary: dict[str, object]) -> list[str]:
    """Why the package cannot be deployed as it is (empty when it can)."""
    api = int(str(summary["unzipped_bytes"]))
    scanner = int(str(summary["scanner_unzipped_bytes"]))
    problems = []
    if api >= MAX_UNZIPPED_BYTES:
        problems.append(f"API/authorizer bundle {api} bytes >= {MAX_UNZIPPED_BYTES}")
    if scanner >= LAMBDA_UNZIPPED_LIMIT:
        problems.append(
            f"scanner function with its layers {scanner} bytes >= Lambda's {LAMBDA_UNZIPPED_LIMIT}"
        )
    return problems


def package(stage: str, out_dir: Path | None = None) -> dict[str, object]:
    """Build the stage's package; returns a summary (paths and sizes)."""
    from infra.chalice_stage import uses_chalice_deploy

    if uses_chalice_deploy(stage):
        raise SystemExit(
            f"stage {stage} is deployed with `chalice deploy` (make infra, make post-deploy):"
            " its policy files name the data stack's resources, not this template's"
        )
    stale = generate.stale_files()
    if stale:
        raise SystemExit(f"generated files out of date: {stale}; run `make generate` and commit")
    merge = write_template(stage)
    out_dir = out_dir or BUILD_DIR / stage / "package"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKGUARD_", "JWT_"))}
    env.update(stages.stage_environment(stage))
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    subprocess.run(  # noqa: S603 - fixed argv: this venv's chalice, our own paths
        [
            str(Path(sys.executable).parent / "chalice"),
            "package",
            "--stage",
            stage,
            "--merge-template",
            str(merge),
            str(out_dir),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    # `automatic_layer`: the app code is the function bundle; dependencies are one layer that
    # every function shares (uploaded once per change of requirements.txt, not per function).
    bundle = out_dir / "deployment.zip"
    layer = out_dir / "layer-deployment.zip"
    dropped = slim(bundle)
    if layer.exists():
        dropped += slim(layer)
    clamav_layer = out_dir / SCANNER_LAYER_ZIP
    shutil.copyfile(scanner_layer.ensure_built(), clamav_layer)
    # The 20 MiB budget counts code and dependencies (so a heavy new dependency is a decision);
    # their bytecode, derived from that code, is reported beside it and counts toward Lambda's
    # own limit (the scanner figure, everything unzipped).
    function_bytes = unzipped_size(bundle, bytecode=False)
    layer_bytes = unzipped_size(layer, bytecode=False) if layer.exists() else 0
    bytecode_bytes = unzipped_size(bundle) - function_bytes
    if layer.exists():
        bytecode_bytes += unzipped_size(layer) - layer_bytes
    clamav_bytes = unzipped_size(clamav_layer)
    summary: dict[str, object] = {
        "stage": stage,
        "template": str(out_dir / "sam.json"),
        "bundle": str(bundle),
        "layer": str(layer) if layer.exists() else None,
        "function_unzipped_bytes": function_bytes,
        "layer_unzipped_bytes": layer_bytes,
        "unzipped_bytes": function_bytes + layer_bytes,
        "bytecode_unzipped_bytes": bytecode_bytes,
        "scanner_layer": str(clamav_layer),
        "scanner_layer_unzipped_bytes": clamav_bytes,
        "scanner_unzipped_bytes": function_bytes + layer_bytes + bytecode_bytes + clamav_bytes,
        "zipped_bytes": bundle.stat().st_size + (layer.stat().st_size if layer.exists() else 0),
        "dropped_runtime_provided": sorted(set(dropped)),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    problem = stages.public_settings_problem(args.stage)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    summary = package(args.stage, args.out)
    mib = 1024 * 1024
    function_bytes = int(str(summary["function_unzipped_bytes"]))
    layer_bytes = int(str(summary["layer_unzipped_bytes"]))
    total = (function_bytes + layer_bytes) / mib
    scanner = int(str(summary["scanner_unzipped_bytes"])) / mib
    print(
        f"{summary['template']}\n  function bundle {function_bytes / mib:.2f} MiB unzipped,"
        f" dependency layer {layer_bytes / mib:.2f} MiB, total {total:.2f} MiB"
        f" (+ bytecode {int(str(summary['bytecode_unzipped_bytes'])) / mib:.2f} MiB)\n"
        f"  scanner functions with the ClamAV layer {scanner:.2f} MiB unzipped"
        f" (Lambda limit {LAMBDA_UNZIPPED_LIMIT / mib:.0f} MiB)"
    )
    problems = size_problems(summary)
    for problem in problems:
        print(f"  TOO LARGE: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
