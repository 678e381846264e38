"""A resident `clamd` per execution environment, spoken to over its unix socket (INSTREAM).

Loading ClamAV's database is what makes a per-file `clamscan` slow (the whole database per object);
the daemon loads it once, on the first scan of a cold execution environment, and every warm
invocation streams its object to the same process. Lambda freezes the daemon between
invocations together with the function; it resumes with the next one.

The engine owns a work directory (in /tmp in Lambda): `clamd.conf`, the socket, clamd's log and
temporary files, and `db/`, the database directory clamd reads. `db/` holds symbolic links to the
definitions being served plus one marker signature naming their version: after a start or a
`RELOAD`, a probe streamed to the daemon must come back as that marker, so the engine knows (rather
than hopes) which definitions answer, and every verdict carries their version.

Fail closed, always: no daemon, a daemon that does not answer within the scan timeout, a broken
connection, an answer that is not exactly `stream: OK` or `stream: <signature> FOUND`, or
definitions that cannot be loaded raise `ScanEngineError`; nothing here ever returns CLEAN for
them. A daemon that timed out is killed, and one that died is restarted on the next scan.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from chalicelib.attachments.scanning.engine import (
    DEFINITION_SUFFIXES,
    ScanEngineError,
    ScanResult,
    Verdict,
    has_definitions,
)

CHUNK_BYTES = 256 * 1024
MARKER_FILE = "deskguard-loaded.hdb"
_MARKER_PREFIX = "Deskguard.Loaded."
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux
_ANSWER_LIMIT = 4096
_FOUND = re.compile(r"stream: (?P<signature>[^\x00\n]{1,200}) FOUND")
_PROBE_HEADER = b"deskguard definitions probe\n"


def probe_content(version: str) -> bytes:
    """The bytes the marker signature of `version` matches (nothing else ever does)."""
    return _PROBE_HEADER + version.encode()


def marker_signature(version: str) -> str:
    return _MARKER_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", version)[:120]


def marker_line(version: str) -> str:
    """The `.hdb` line (`md5:size:name`) of the version marker."""
    probe = probe_content(version)
    # ClamAV's hash-signature format, not a security use.
    digest = hashlib.md5(probe, usedforsecurity=False).hexdigest()
    return f"{digest}:{len(probe)}:{marker_signature(version)}\n"


def parse_answer(answer: bytes) -> ScanResult:
    """clamd's answer to one INSTREAM -> a verdict, or ScanEngineError (fail closed)."""
    text = answer.rstrip(b"\x00").decode("utf-8", "replace")
    if text == "stream: OK":
        return ScanResult(Verdict.CLEAN, engine="clamd")
    found = _FOUND.fullmatch(text)
    if found and not found["signature"].endswith(" ERROR"):
        signature = found["signature"].removesuffix(".UNOFFICIAL")
        return ScanResult(Verdict.INFECTED, signature, engine="clamd")
    raise ScanEngineError(f"clamd gave no verdict: {text[:200]!r}")


def config_text(work: Path, *, max_stream_bytes: int, scan_timeout_seconds: float) -> str:
    """clamd.conf for one engine: local socket only, limits above the attachment cap."""
    limit_mib = max(1, -(-max_stream_bytes // (1024 * 1024)))
    # Files above a limit are skipped and reported clean unless AlertExceedsMax turns the skip
    # into a finding; the limits sit above the cap so that only a real oddity reaches them.
    big = f"{4 * limit_mib + 100}M"
    return "\n".join(
        [
            f"LocalSocket {work / 'clamd.sock'}",
            "LocalSocketMode 600",
            f"DatabaseDirectory {work / 'db'}",
            f"TemporaryDirectory {work / 'tmp'}",
            f"LogFile {work / 'clamd.log'}",
            "LogFileMaxSize 2M",
            "LogTime yes",
            "Foreground yes",
            "MaxThreads 8",
            "MaxQueue 200",
            f"StreamMaxLength {limit_mib + 1}M",
            f"MaxScanSize {big}",
            f"MaxFileSize {big}",
            f"MaxScanTime {int(scan_timeout_seconds * 1000)}",
            "AlertExceedsMax yes",
            # Reloads happen when the engine asks for them (new definitions synced), never on
            # a timer in the middle of a sync.
            "SelfCheck 0",
            "ConcurrentDatabaseReload yes",
            "ExitOnOOM yes",
            "",
        ]
    )


class ClamdEngine:
    """A `clamd` started on first use and reused by every later scan; thread-safe."""

    def __init__(
        self,
        *,
        command: Sequence[str],
        work_dir: str,
        timeout_seconds: float,
        startup_timeout_seconds: float = 120.0,
        max_stream_bytes: int = 10 * 1024 * 1024,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.work = Path(work_dir)
        self.timeout_seconds = timeout_seconds
        self.startup_timeout_seconds = startup_timeout_seconds
        self.max_stream_bytes = max_stream_bytes
        self.env = env
        self.socket_path = self.work / "clamd.sock"
        self.definitions_version: str | None = None
        self.starts = 0
        self.reloads = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._source_dir: str | None = None
        self._lock = threading.RLock()
        if len(str(self.socket_path)) > _MAX_SOCKET_PATH:
            raise ValueError(f"work directory path too long for a unix socket: {work_dir}")

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def ensure_definitions(self, source_dir: str, version: str) -> None:
        """Serve the definitions in `source_dir` (labelled `version`): start the daemon if it is
        not running, or make it reload when the version changed. Raises ScanEngineError."""
        with self._lock:
            self._source_dir = source_dir
            if self.pid is None:
                self._start(version)
            elif version != self.definitions_version:
                self._reload(version)

    def _link_definitions(self, version: str) -> None:
        source = self._source_dir
        if source is None or not has_definitions(source):
            raise ScanEngineError("no ClamAV definitions in the definitions directory")
        db = self.work / "db"
        db.mkdir(parents=True, exist_ok=True)
        for entry in db.iterdir():
            entry.unlink()
        for path in sorted(Path(source).iterdir()):
            if path.suffix in DEFINITION_SUFFIXES and path.name != MARKER_FILE and path.is_file():
                (db / path.name).symlink_to(path.resolve())
        (db / MARKER_FILE).write_text(marker_line(version))

    def _start(self, version: str) -> None:
        self._kill()
        self._link_definitions(version)
        (self.work / "tmp").mkdir(parents=True, exist_ok=True)
        config = self.work / "clamd.conf"
        config.write_text(
            config_text(
                self.work,
                max_stream_bytes=self.max_stream_bytes,
                scan_timeout_seconds=self.timeout_seconds,
            )
        )
        self.socket_path.unlink(missing_ok=True)
        log = self.work / "clamd.log"
        log.unlink(missing_ok=True)
        # Its own output goes to a file, never to a pipe nobody reads (a full pipe would block it).
        with open(self.work / "clamd.out", "wb") as output:
            try:
                self._process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
                    [*self.command, f"--config-file={config}"],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    start_new_session=True,
                )
            except OSError as error:
                raise ScanEngineError(
                    f"clamd could not be started: {type(error).__name__}"
                ) from None
        self.starts += 1
        self.definitions_version = None
        deadline = time.monotonic() + self.startup_timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                detail = self._failure_detail()
                self._process = None
                raise ScanEngineError(f"clamd exited while starting: {detail}")
            if self.socket_path.exists() and self._ping():
                break
            time.sleep(0.05)
        else:
            self._kill()
            raise ScanEngineError(f"clamd did not answer within {self.startup_timeout_seconds}s")
        self._confirm_loaded(version, deadline)

    def _reload(self, version: str) -> None:
        self._link_definitions(version)
        answer = self._command(b"zRELOAD\0", self.timeout_seconds)
        if answer.rstrip(b"\x00") != b"RELOADING":
            self._kill()
            raise ScanEngineError(f"clamd refused to reload: {answer[:100]!r}")
        self.reloads += 1
        self._confirm_loaded(version, time.monotonic() + self.startup_timeout_seconds)

    def _confirm_loaded(self, version: str, deadline: float) -> None:
        """Wait until the daemon answers the version probe with that version's marker (a
        reload swaps databases in the background: until then the old one answers)."""
        expected = marker_signature(version)
        while time.monotonic() < deadline:
            result = self._instream(iter([probe_content(version)]), self.timeout_seconds)
            if result.signature == expected:
                self.definitions_version = version
                return
            if self.pid is None:
                break
            time.sleep(0.05)
        detail = self._failure_detail()
        self._kill()
        raise ScanEngineError(f"clamd did not load definitions {version}: {detail}")

    def _failure_detail(self) -> str:
        lines: list[str] = []
        for name in ("clamd.log", "clamd.out"):
            path = self.work / name
            if path.exists():
                lines += path.read_text(errors="replace").splitlines()[-3:]
        return " | ".join(line.strip() for line in lines if line.strip())[:500] or "no detail"

    def _kill(self) -> None:
        process, self._process = self._process, None
        self.definitions_version = None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the daemon (tests, the definitions self-test, and interpreter exit)."""
        with self._lock:
            self._kill()

    # --- the protocol ---------------------------------------------------------------------

    def _connect(self, timeout: float) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(timeout)
        try:
            conn.connect(str(self.socket_path))
        except OSError as error:
            conn.close()
            raise ScanEngineError(f"clamd socket unavailable: {type(error).__name__}") from None
        return conn

    @staticmethod
    def _read_answer(conn: socket.socket, deadline: float) -> bytes:
        answer = b""
        while not answer.endswith(b"\x00"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            conn.settimeout(remaining)
            chunk = conn.recv(_ANSWER_LIMIT)
            if not chunk:
                break
            answer += chunk
            if len(answer) > _ANSWER_LIMIT:
                raise ScanEngineError("clamd answer too long")
        return answer

    def _command(self, command: bytes, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        with self._connect(timeout) as conn:
            try:
                conn.sendall(command)
                return self._read_answer(conn, deadline)
            except TimeoutError:
                raise ScanEngineError("clamd did not answer in time") from None
            except OSError as error:
                raise ScanEngineError(f"clamd connection failed: {type(error).__name__}") from None

    def _ping(self) -> bool:
        try:
            return self._command(b"zPING\0", 2.0).rstrip(b"\x00") == b"PONG"
        except ScanEngineError:
            return False

    def _instream(self, chunks: Iterator[bytes], timeout: float) -> ScanResult:
        deadline = time.monotonic() + timeout
        with self._connect(timeout) as conn:
            try:
                conn.sendall(b"zINSTREAM\0")
                for chunk in chunks:
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    conn.settimeout(max(deadline - time.monotonic(), 0.001))
                    conn.sendall(struct.pack(">I", len(chunk)) + chunk)
                conn.sendall(struct.pack(">I", 0))
                answer = self._read_answer(conn, deadline)
            except TimeoutError:
                raise ScanEngineError(f"clamd timed out after {timeout}s") from None
            except OSError as error:
                # clamd closes the stream early when it exceeds StreamMaxLength; any broken
                # connection is an error, never a verdict.
                raise ScanEngineError(f"clamd connection failed: {type(error).__name__}") from None
        return parse_answer(answer)

    # --- scanning -------------------------------------------------------------------------

    def scan_chunks(self, chunks: Iterable[bytes]) -> ScanResult:
        """Stream `chunks` to the daemon and return its verdict (or raise ScanEngineError)."""
        with self._lock:
            if self.pid is None:
                if self._source_dir is None:
                    raise ScanEngineError("clamd has no definitions to serve")
                # It died (killed, out of memory) or timed out earlier: start a fresh one.
                self._start(self.definitions_version or directory_version(self._source_dir))
            version = self.definitions_version
        try:
            result = self._instream(iter(chunks), self.timeout_seconds)
        except ScanEngineError:
            with self._lock:
                if self.pid is not None and not self._ping():
                    self._kill()  # hung or dying: the next scan starts a new one
            raise
        return ScanResult(result.verdict, result.signature, "clamd", version)

    def scan_file(self, path: str) -> ScanResult:
        """Stream the file at `path` to the daemon (ScanEngine interface)."""
        try:
            handle = open(path, "rb")  # noqa: SIM115 (closed below, after the stream)
        except OSError:
            raise ScanEngineError("the file to scan cannot be read") from None
        with handle:
            return self.scan_chunks(iter(lambda: handle.read(CHUNK_BYTES), b""))


def directory_version(directory: str) -> str:
    """A version label for a directory without a manifest: a digest of its definition files."""
    digest = hashlib.sha256()
    folder = Path(directory)
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        if path.suffix in DEFINITION_SUFFIXES and path.name != MARKER_FILE and path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return f"local-{digest.hexdigest()[:16]}"
