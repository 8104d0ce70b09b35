"""Inspection and extraction in a child process with CPU, memory, file-size and wall-clock limits.

The parent starts ``python -m tracker.documents.sandbox`` in a session of its own with a minimal environment
and no standard input. The child lowers its own resource limits before it imports a parser (so the parent
needs no ``preexec_fn``, which is unsafe in a threaded web process), Tesseract inherits them, and on a wall
timeout the whole process group is killed. The child writes JSON lines on its standard output: progress,
then one result (or a BadFile, or an error). Importing this module loads no parser.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tracker.documents.extraction import Extracted
from tracker.documents.formats import MEDIA_TYPES, BadFile
from tracker.documents.processes import die_with_parent


@dataclass(frozen=True)
class Limits:
    """What the child may use: seconds of CPU (its own; Tesseract gets as many per page), bytes of address
    space (each process: the child, and Tesseract on its own), seconds of wall-clock time for the whole run,
    and the largest file it may write."""

    cpu_seconds: int
    memory_bytes: int
    wall_seconds: float
    file_bytes: int = 64 * 1024 * 1024


# Measured here (see docs): the child peaks at ~160 MB of address space on an A4 page at 300 dpi, Tesseract at
# ~120 MB (it aborts under 100 MB); a 100-page text layer takes ~4 s of CPU, OCR ~1.3 s per page.
DEFAULT_LIMITS = Limits(cpu_seconds=600, memory_bytes=1024 * 1024 * 1024, wall_seconds=900.0)
# Seconds the child is given over its CPU limit before the kernel kills it outright (SIGXCPU first).
_CPU_GRACE = 5
_STDERR_TAIL = 4000
_PASSED_ENVIRONMENT = ("PYTHAINLP_DATA", "PYTHAINLP_READ_ONLY", "TESSDATA_PREFIX", "TMPDIR", "LANG", "LC_ALL")


class SandboxFailure(Exception):
    """The child did not give an answer: ``reason`` is "timeout", "cpu limit", "memory limit",
    "crashed (signal N, NAME)" or "error: ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------------
# The parent


def _environment() -> dict[str, str]:
    """A minimal environment for the child: where tracker is, PATH (for Tesseract), the segmenter's data
    folder, one thread for Tesseract's OpenMP and few malloc arenas (each thread's arena reserves 64 MB of
    address space, which counts against the memory limit)."""
    package_root = str(Path(__file__).resolve().parents[2])
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": package_root,
                   "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "LANG": "C.UTF-8",
                   "OMP_THREAD_LIMIT": "1", "MALLOC_ARENA_MAX": "2", "HOME": os.environ.get("TMPDIR", "/tmp")}
    environment.update({key: os.environ[key] for key in _PASSED_ENVIRONMENT if key in os.environ})
    return environment


def _describe_signal(number: int) -> str:
    try:
        return f"{number}, {signal.Signals(number).name}"
    except ValueError:
        return str(number)


def run_child(arguments: Sequence[str], limits: Limits,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run the child with ``arguments`` under ``limits``; its result message.

    Raises BadFile when the child found the file bad, SandboxFailure when it was killed, crashed or failed.
    """
    command = [sys.executable, "-m", "tracker.documents.sandbox", "--cpu-seconds", str(limits.cpu_seconds),
               "--memory-bytes", str(limits.memory_bytes), "--file-bytes", str(limits.file_bytes), *arguments]
    deadline = time.monotonic() + limits.wall_seconds
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=_environment(), start_new_session=True, close_fds=True)
    assert process.stdout is not None and process.stderr is not None
    messages: list[dict[str, Any]] = []
    stderr_tail = b""
    pending = b""
    timed_out = False
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.register(process.stderr, selectors.EVENT_READ)
        open_streams = 2
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in selector.select(timeout=min(remaining, 1.0)):
                stream: IO[bytes] = key.fileobj  # type: ignore[assignment]
                data = os.read(stream.fileno(), 65536)
                if not data:
                    selector.unregister(stream)
                    open_streams -= 1
                elif stream is process.stdout:
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        message = _message(line)
                        if message is None:
                            continue
                        if "progress" in message and progress is not None:
                            done, total = message["progress"]
                            progress(int(done), int(total))
                        messages.append(message)
                else:
                    stderr_tail = (stderr_tail + data)[-_STDERR_TAIL:]
    process.stdout.close()
    process.stderr.close()
    if timed_out:
        _kill_group(process)
        raise SandboxFailure("timeout")
    waited = _wait(process, deadline)
    # The child is done; whatever it started in its group (a Tesseract) goes with it.
    _kill_group(process, wait=False)
    if waited is None:
        _kill_group(process)
        raise SandboxFailure("timeout")
    returncode, cpu_seconds = waited
    final: dict[str, Any] | None = next((message for message in reversed(messages) if "progress" not in message),
                                        None)
    if returncode < 0:
        number = -returncode
        # SIGXCPU at the soft limit; SIGKILL at the hard one, if the child ignored the first.
        if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu_seconds >= limits.cpu_seconds):
            raise SandboxFailure("cpu limit")
        raise SandboxFailure(f"crashed (signal {_describe_signal(number)})")
    if final is None:
        detail = stderr_tail.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit status {returncode}"]
        raise SandboxFailure(f"error: {detail[0][:300]}")
    if "bad_file" in final:
        raise BadFile.from_json(final["bad_file"])
    if "failure" in final:
        raise SandboxFailure(str(final["failure"]))
    return final


def _wait(process: subprocess.Popen[bytes], deadline: float) -> tuple[int, float] | None:
    """Reap the child before ``deadline``: its return code (negative: killed by that signal) and the CPU
    seconds it used; None if it is still running then."""
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def _message(line: bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _kill_group(process: subprocess.Popen[bytes], wait: bool = True) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if wait:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def run_inspect(path: str | os.PathLike[str], media_type: str, *, max_pages: int,
                limits: Limits = DEFAULT_LIMITS) -> int:
    """``extraction.inspect`` in the sandbox: the page count. BadFile passes through."""
    result = run_child(["inspect", os.fspath(path), MEDIA_TYPES.get(media_type, media_type),
                        "--max-pages", str(max_pages)], limits)
    return int(result["pages"])


def run_extract(path: str | os.PathLike[str], media_type: str, language: str, *, max_pages: int,
                limits: Limits = DEFAULT_LIMITS, ocr: bool = True, ocr_languages: str = "lao+eng",
                progress: Callable[[int, int], None] | None = None) -> Extracted:
    """``extraction.extract`` in the sandbox. BadFile passes through; ``progress(done, total)`` is called
    in this process as the child reports pages done."""
    arguments = ["extract", os.fspath(path), MEDIA_TYPES.get(media_type, media_type), "--max-pages",
                 str(max_pages), "--language", language, "--ocr-languages", ocr_languages]
    if not ocr:
        arguments.append("--no-ocr")
    result = run_child(arguments, limits, progress)
    return Extracted.from_json(result["extracted"])


# ---------------------------------------------------------------------------------------------------
# The child


def _limit(kind: int, value: int, hard: int | None = None) -> None:
    _, current_hard = resource.getrlimit(kind)
    hard = value if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard))


def _set_limits(cpu_seconds: int, memory_bytes: int, file_bytes: int) -> None:
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + _CPU_GRACE)
    _limit(resource.RLIMIT_AS, memory_bytes)
    _limit(resource.RLIMIT_FSIZE, file_bytes)


def _peak_memory() -> int:
    """The child's peak address space (VmPeak), in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _test_behaviour(name: str) -> None:
    """What the sandbox's own tests make a child do to see the limits hold (never used otherwise)."""
    if name == "hang":
        while True:
            time.sleep(1)
    if name == "spin":
        while True:
            pass
    if name == "allocate":
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))
    if name == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if name == "spawn-and-hang":
        subprocess.Popen(["sleep", "600.0173"], stdin=subprocess.DEVNULL)
        while True:
            time.sleep(1)


def main(argv: Sequence[str] | None = None) -> int:
    """The child: ``python -m tracker.documents.sandbox inspect|extract PATH TYPE [options]``."""
    parser = argparse.ArgumentParser(prog="python -m tracker.documents.sandbox")
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("--memory-bytes", type=int, required=True)
    parser.add_argument("--file-bytes", type=int, required=True)
    parser.add_argument("--test-behaviour", choices=("hang", "spin", "allocate", "crash", "spawn-and-hang"),
                        help=argparse.SUPPRESS)
    parser.add_argument("action", choices=("inspect", "extract", "none"))
    parser.add_argument("path", nargs="?")
    parser.add_argument("media_type", nargs="?", help="pdf, docx, html or txt")
    parser.add_argument("--max-pages", type=int, default=1)
    parser.add_argument("--language", default="en")
    parser.add_argument("--ocr-languages", default="lao+eng")
    parser.add_argument("--no-ocr", action="store_true")
    options = parser.parse_args(argv)
    die_with_parent()
    _set_limits(options.cpu_seconds, options.memory_bytes, options.file_bytes)
    # Results go to the real standard output; anything a library prints goes to standard error instead.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message, ensure_ascii=False) + "\n")
        out.flush()

    try:
        if options.test_behaviour:
            _test_behaviour(options.test_behaviour)
        from tracker import lao
        from tracker.documents import extraction

        lao.configure_data()
        media_type = {short: media for media, short in MEDIA_TYPES.items()}.get(options.media_type or "", "")
        if options.action == "inspect":
            pages = extraction.inspect(options.path, media_type, max_pages=options.max_pages)
            send({"pages": pages, "peak_memory": _peak_memory()})
        elif options.action == "extract":
            extracted = extraction.extract(
                options.path, media_type, options.language, max_pages=options.max_pages, ocr=not options.no_ocr,
                ocr_languages=options.ocr_languages, progress=lambda done, total: send({"progress": [done, total]}))
            send({"extracted": extracted.to_json(), "peak_memory": _peak_memory()})
        else:
            send({"peak_memory": _peak_memory()})
    except BadFile as error:
        send({"bad_file": error.to_json()})
    except MemoryError:
        send({"failure": "memory limit"})
        return 3
    except Exception as error:  # noqa: BLE001 - whatever a parser raises is reported, not a traceback
        # A library that cannot be mapped, or a buffer not allocated, under the address-space limit.
        if getattr(error, "errno", None) == errno.ENOMEM or "failed to map segment" in str(error):
            send({"failure": "memory limit"})
            return 3
        send({"failure": f"error: {type(error).__name__}: {str(error)[:300]}"})
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
