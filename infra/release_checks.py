"""`make audit`: the release checks CI runs through `make test`.

1. bandit over chalicelib/ and app.py: any HIGH-severity finding fails (lower ones are printed);
   a reviewed false positive is resolved in the code with `# nosec <test id>` and a reason.
2. detect-secrets over every tracked file against `.secrets.baseline`: a new secret-like string
   fails; a reviewed false positive is added with `make secrets-baseline` (and committed).
3. pip-audit on requirements.txt (the Lambda bundle's dependencies, resolved transitively):
   a known vulnerability fails. If the vulnerability service cannot be reached, or it answers
   for none of the dependencies, the check says so loudly and does not fail the build for that
   reason alone: an audit that could not run is reported, never passed off as clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603


def bandit() -> bool:
    result = _run([str(BIN / "bandit"), "-q", "-r", "chalicelib", "app.py", "-f", "json"])
    report = json.loads(result.stdout or "{}")
    findings = report.get("results", [])
    high = [f for f in findings if f["issue_severity"] == "HIGH"]
    for finding in findings:
        print(
            f"  bandit {finding['issue_severity']}/{finding['issue_confidence']} "
            f"{finding['test_id']} {finding['filename']}:{finding['line_number']} "
            f"{finding['issue_text']}"
        )
    print(f"bandit: {len(findings)} finding(s), {len(high)} high")
    return not high and not report.get("errors")


def secrets() -> bool:
    files = _run(["git", "ls-files"]).stdout.split()
    files = [name for name in files if (ROOT / name).is_file()]
    result = _run([str(BIN / "detect-secrets-hook"), "--baseline", ".secrets.baseline", *files])
    if result.returncode:
        print(result.stdout + result.stderr)
    print(f"detect-secrets: {len(files)} tracked files, {'FAIL' if result.returncode else 'ok'}")
    return result.returncode == 0


def pip_audit() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        result = _run(
            [
                str(BIN / "pip-audit"),
                "-r",
                "requirements.txt",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(out),
            ]
        )
        report = json.loads(out.read_text()) if out.exists() and out.stat().st_size else None
    if report is None:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"pip-audit: WARNING: NOT AUDITED: vulnerability service unreachable ({tail})")
        return True
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"  pip-audit: {dep['name']} {dep.get('version')}: {ids}")
    audited = len(dependencies) - len(skipped)
    if skipped:
        print(
            f"pip-audit: WARNING: {len(skipped)} of {len(dependencies)} dependencies NOT AUDITED "
            "(the vulnerability service did not answer for them from this network)"
        )
    print(f"pip-audit: {audited} audited, {len(vulnerable)} vulnerable")
    return not vulnerable


def main() -> int:
    results = {"bandit": bandit(), "secrets": secrets(), "pip-audit": pip_audit()}
    failed = [name for name, ok in results.items() if not ok]
    print("release checks:", "FAILED " + ", ".join(failed) if failed else "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
