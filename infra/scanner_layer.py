"""`make scanner-layer`: the ClamAV Lambda layer, built from Debian's packages.

Lambda's python3.11 runtime is Amazon Linux 2 (glibc 2.26); Debian's ClamAV is built against glibc
2.36. So the layer carries its own C library and dynamic loader and the binaries are never run by
the runtime's loader: the functions launch them as

    /opt/lib/ld-linux-x86-64.so.2 --library-path /opt/lib /opt/bin/clamd --config-file=...

Steps:
1. `apt-get download` the packages holding the binaries (clamav-daemon: clamd; clamav-freshclam:
   freshclam; clamdscan) and libclamav12 and libc6, and unpack each with `dpkg-deb -x`;
2. resolve the shared libraries: read every binary's and library's `NEEDED` entries
   (`readelf -d`), find each soname in the unpacked packages, and when one is missing download the
   library packages the already-downloaded ones depend on (`apt-cache depends`), until the closure
   is complete (the build fails naming any soname that no package provides);
3. lay out `/opt/bin` (the binaries), `/opt/lib` (exactly the libraries needed, plus
   `ld-linux-x86-64.so.2`), `/opt/share/doc/<package>/copyright` (ClamAV is GPL-2.0: the licences
   travel with the binaries) and `/opt/PACKAGES.txt` (package versions and .deb digests);
4. smoke-test (`clamd --version` through the bundled loader) and zip it.

Output: `build/scanner-layer/clamav-layer.zip` (and the unpacked tree next to it, which the
bubblewrap test runs). Downloaded .debs are cached in `build/scanner-layer/debs/`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
LAYER_DIR = ROOT / "build" / "scanner-layer"
LAYER_ZIP = LAYER_DIR / "clamav-layer.zip"
LAYER_TREE = LAYER_DIR / "opt"
LOADER = "ld-linux-x86-64.so.2"
ROOT_PACKAGES = ("clamav-daemon", "clamav-freshclam", "clamdscan", "libclamav12", "libc6")
BINARIES = {
    "clamd": "usr/sbin/clamd",
    "freshclam": "usr/bin/freshclam",
    "clamdscan": "usr/bin/clamdscan",
}
_LIBRARY_DIRS = ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib", "lib")
_NEEDED = re.compile(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")
_MAX_ROUNDS = 8


class LayerBuildFailed(RuntimeError):
    """The layer could not be assembled (a package or a shared library is missing)."""


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        completed = subprocess.run(  # noqa: S603 (fixed tools, our own arguments)
            argv, cwd=cwd, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise LayerBuildFailed(f"{argv[0]} not found (Debian's apt and binutils)") from None
    if completed.returncode != 0:
        raise LayerBuildFailed(f"{' '.join(argv[:3])}: {completed.stderr.strip()[-500:]}")
    return completed.stdout


def download(packages: set[str], debs: Path) -> dict[str, Path]:
    """{package: .deb} for `packages`, downloaded with `apt-get download` (cached)."""
    debs.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    missing = []
    for package in sorted(packages):
        cached = sorted(debs.glob(f"{package}_*.deb"))
        if cached:
            found[package] = cached[-1]
        else:
            missing.append(package)
    if missing:
        _run(["apt-get", "download", "-q", *missing], cwd=debs)
        for package in missing:
            cached = sorted(debs.glob(f"{package}_*.deb"))
            if not cached:
                raise LayerBuildFailed(f"apt-get download gave no .deb for {package}")
            found[package] = cached[-1]
    return found


def unpack(deb: Path, target: Path) -> Path:
    """`dpkg-deb -x` into `target/<package>`; returns that directory."""
    out = target / deb.name.split("_", 1)[0]
    if not out.exists():
        out.mkdir(parents=True)
        _run(["dpkg-deb", "-x", str(deb), str(out)])
    return out


def library_depends(package: str) -> set[str]:
    """The library packages `package` depends on directly (what may hold a missing soname)."""
    output = _run(
        ["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-enhances", package]
    )
    names = set()
    for line in output.splitlines():
        match = re.match(r"\s+\|?(?:Pre)?Depends: ([a-z0-9][a-z0-9.+-]+)", line)
        if match and match[1].startswith(("lib", "zlib")):
            names.add(match[1])
    return names


def needed(path: Path) -> list[str]:
    return _NEEDED.findall(_run(["readelf", "-d", str(path)]))


def _soname_index(unpacked: dict[str, Path]) -> dict[str, tuple[str, Path]]:
    index: dict[str, tuple[str, Path]] = {}
    for package, tree in unpacked.items():
        for directory in _LIBRARY_DIRS:
            folder = tree / directory
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if ".so" in entry.name and (entry.is_file() or entry.is_symlink()):
                    index.setdefault(entry.name, (package, entry))
    return index


def _resolve(entry: Path, tree: Path) -> Path:
    """Follow a symlink inside an unpacked package (absolute links point into the package)."""
    seen = 0
    while entry.is_symlink():
        target = Path(os.readlink(entry))
        entry = tree / str(target).lstrip("/") if target.is_absolute() else entry.parent / target
        seen += 1
        if seen > 10:
            raise LayerBuildFailed(f"symlink loop at {entry}")
    return entry


def closure(
    unpacked: dict[str, Path], index: dict[str, tuple[str, Path]]
) -> tuple[dict[str, Path], set[str], set[str]]:
    """({soname: file}, missing sonames, packages used) for the binaries and their libraries."""
    roots = [unpacked[_package_of(b)] / rel for b, rel in BINARIES.items()]
    files: dict[str, Path] = {}
    used = {_package_of(b) for b in BINARIES}
    missing: set[str] = set()
    queue = [(name, root) for root in roots for name in needed(root)]
    queue.append((LOADER, roots[0]))
    while queue:
        soname, _ = queue.pop()
        if soname in files or soname in missing:
            continue
        if soname not in index:
            missing.add(soname)
            continue
        package, entry = index[soname]
        real = _resolve(entry, unpacked[package])
        files[soname] = real
        used.add(package)
        queue += [(name, real) for name in needed(real)]
    return files, missing, used


def _package_of(binary: str) -> str:
    return {"clamd": "clamav-daemon", "freshclam": "clamav-freshclam"}.get(binary, binary)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o755)


def build(out_dir: Path = LAYER_DIR) -> Path:
    """Assemble and zip the layer; returns the zip's path."""
    debs_dir, unpack_dir, tree = out_dir / "debs", out_dir / "unpacked", out_dir / "opt"
    packages = set(ROOT_PACKAGES)
    unpacked: dict[str, Path] = {}
    debs: dict[str, Path] = {}
    for _ in range(_MAX_ROUNDS):
        debs.update(download(packages - set(debs), debs_dir))
        unpacked.update({p: unpack(deb, unpack_dir) for p, deb in debs.items()})
        files, missing, used = closure(unpacked, _soname_index(unpacked))
        if not missing:
            break
        candidates = set().union(*(library_depends(p) for p in unpacked)) - set(unpacked)
        if not candidates:
            raise LayerBuildFailed(f"no package provides {sorted(missing)}")
        packages |= candidates
    else:
        raise LayerBuildFailed(f"libraries still missing after {_MAX_ROUNDS} rounds: {missing}")

    if tree.exists():
        shutil.rmtree(tree)
    for binary, relative in BINARIES.items():
        _copy(unpacked[_package_of(binary)] / relative, tree / "bin" / binary)
    for soname, source in files.items():
        _copy(source, tree / "lib" / soname)
    lines = ["# Debian packages in this layer (package version sha256-of-deb)"]
    for package in sorted(used):
        copyright_file = unpacked[package] / "usr/share/doc" / package / "copyright"
        if copyright_file.is_file():
            _copy(copyright_file, tree / "share/doc" / package / "copyright")
        deb = debs[package]
        version = unquote(deb.name.split("_")[1])  # apt names files with the epoch as %3a
        digest = hashlib.sha256(deb.read_bytes()).hexdigest()
        lines.append(f"{package} {version} {digest}")
    (tree / "PACKAGES.txt").write_text("\n".join(lines) + "\n")
    smoke_test(tree)
    return write_zip(tree, out_dir / LAYER_ZIP.name)


def launch_argv(tree: Path, binary: str) -> list[str]:
    """argv that runs a layer binary through the layer's own loader and libraries."""
    lib = tree / "lib"
    return [str(lib / LOADER), "--library-path", str(lib), str(tree / "bin" / binary)]


def smoke_test(tree: Path) -> str:
    """`clamd --version` through the bundled loader (the libraries resolve, the binary runs)."""
    version = _run([*launch_argv(tree, "clamd"), "--version"]).strip()
    if not version.startswith("ClamAV "):
        raise LayerBuildFailed(f"clamd --version printed {version!r}")
    return version


def write_zip(tree: Path, target: Path) -> Path:
    """Zip the tree (files only, executable bits kept) as the layer's /opt."""
    partial = target.with_suffix(".tmp")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(str(path.relative_to(tree)), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | (path.stat().st_mode & 0o777)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    partial.replace(target)
    return target


def unzipped_size(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


def ensure_built() -> Path:
    """The layer zip, built if it is not there yet."""
    return LAYER_ZIP if LAYER_ZIP.exists() else build()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=LAYER_DIR)
    args = parser.parse_args(argv)
    try:
        path = build(args.out)
    except LayerBuildFailed as error:
        print(f"scanner layer: {error}", file=sys.stderr)
        return 1
    tree = args.out / "opt"
    mib = 1024 * 1024
    print(
        f"{path}: {unzipped_size(path) / mib:.1f} MiB unzipped, {path.stat().st_size / mib:.1f}"
        f" MiB zipped; {smoke_test(tree)}; {len(list((tree / 'lib').iterdir()))} libraries"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
