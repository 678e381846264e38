"""The built ClamAV layer carries everything it needs: its clamd runs, and scans, inside a
bubblewrap sandbox whose root holds only the layer at /opt plus /tmp, /proc and /dev (nothing of
the host's /usr, /lib or /etc), launched exactly as the Lambda functions launch it (the layer's
own loader and libraries)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.attachments.scanning.clamd import ClamdEngine
from chalicelib.attachments.scanning.engine import Verdict
from infra import scanner_layer
from infra.cfn_scanner import SCANNER_ENVIRONMENT
from tests.support.av import EICAR, SIGNATURE_NAME, build_signature_db, pdf_bytes

BWRAP = shutil.which("bwrap")
pytestmark = pytest.mark.skipif(BWRAP is None, reason="bubblewrap not installed (make test)")


@pytest.fixture(scope="module")
def layer() -> Path:
    """The unpacked layer (`make scanner-layer`; built here if missing)."""
    scanner_layer.ensure_built()
    tree = scanner_layer.LAYER_TREE
    assert (tree / "bin" / "clamd").is_file()
    return tree


@pytest.fixture
def base() -> Iterator[Path]:
    """A host directory mounted at the same path inside the sandbox's /tmp (short: it holds the
    unix socket)."""
    path = Path(tempfile.mkdtemp(prefix="sbx-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def sandbox(layer: Path, base: Path) -> list[str]:
    """bwrap argv: a new root with only /opt (the layer, read-only), /tmp, /proc and /dev."""
    assert BWRAP is not None
    return [
        BWRAP,
        "--unshare-all",
        "--die-with-parent",
        "--clearenv",
        "--ro-bind",
        str(layer),
        "/opt",
        "--tmpfs",
        "/tmp",
        "--bind",
        str(base),
        str(base),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--",
    ]


def _lambda_argv(binary: str) -> list[str]:
    # The very command line the template gives the functions (CLAMD_COMMAND).
    argv = SCANNER_ENVIRONMENT["CLAMD_COMMAND"].split()
    return [*argv[:-1], f"/opt/bin/{binary}"]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


def _namespaces_work(layer: Path, base: Path) -> str | None:
    probe = _run([*sandbox(layer, base), *_lambda_argv("clamd"), "--version"])
    if probe.returncode != 0 and "namespace" in probe.stderr.lower():
        return probe.stderr.strip()
    return None


def test_the_sandbox_holds_nothing_of_the_host(layer: Path, base: Path) -> None:
    reason = _namespaces_work(layer, base)
    if reason:
        pytest.skip(f"bwrap cannot create namespaces here: {reason}")
    # The binary on its own needs /lib64/ld-linux-x86-64.so.2, which the sandbox does not have.
    direct = _run([*sandbox(layer, base), "/opt/bin/clamd", "--version"])
    assert direct.returncode != 0
    # The host's own ClamAV configuration (installed by make test) is not visible inside.
    host_config = Path("/etc/clamav/clamd.conf")
    if host_config.exists():
        hidden = _run(
            [*sandbox(layer, base), *_lambda_argv("clamd"), f"--config-file={host_config}"]
        )
        assert hidden.returncode != 0
        assert "Can't open/parse the config file" in hidden.stderr
    config = base / "version.conf"
    config.write_text(f"LocalSocket {base / 'unused.sock'}\n")
    through_loader = _run(
        [*sandbox(layer, base), *_lambda_argv("clamd"), f"--config-file={config}", "--version"]
    )
    assert through_loader.returncode == 0, through_loader.stderr
    assert through_loader.stdout.startswith("ClamAV 1.")


def test_layer_clamd_scans_inside_the_sandbox(layer: Path, base: Path) -> None:
    reason = _namespaces_work(layer, base)
    if reason:
        pytest.skip(f"bwrap cannot create namespaces here: {reason}")
    definitions = build_signature_db(base / "definitions")
    engine = ClamdEngine(
        command=[*sandbox(layer, base), *_lambda_argv("clamd")],
        work_dir=str(base / "clamd"),
        timeout_seconds=60,
        startup_timeout_seconds=60,
    )
    try:
        engine.ensure_definitions(str(definitions), "sandbox-1")
        eicar, clean = base / "eicar.txt", base / "quote.pdf"
        eicar.write_bytes(EICAR)
        clean.write_bytes(pdf_bytes())
        found = engine.scan_file(str(eicar))
        assert found.verdict is Verdict.INFECTED
        assert found.signature is not None and found.signature.startswith(SIGNATURE_NAME)
        assert engine.scan_file(str(clean)).verdict is Verdict.CLEAN

        # And a scan started inside the sandbox too: the layer's clamdscan against its clamd.
        config = f"--config-file={base / 'clamd' / 'clamd.conf'}"
        inside = [*sandbox(layer, base), *_lambda_argv("clamdscan"), config, "--stream"]
        infected = _run([*inside, "--no-summary", str(eicar)])
        assert infected.returncode == 1, infected.stderr
        assert f"{eicar}: {SIGNATURE_NAME}" in infected.stdout and "FOUND" in infected.stdout
        passed = _run([*inside, "--no-summary", str(clean)])
        assert passed.returncode == 0, passed.stderr
        assert passed.stdout.strip() == f"{clean}: OK"
    finally:
        engine.stop()
