"""Real processes for system tests: started with their output in log files, stopped with SIGTERM then SIGKILL."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS has just handed out (and that nothing listens on yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], T], *, timeout: float, interval: float = 0.2, what: str = "a condition") -> T:
    """Call ``check`` until it returns something true and return that; fail after ``timeout`` seconds with
    the last exception it raised or its last answer."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
        except Exception as error:  # noqa: BLE001 - kept to report if the deadline passes
            last = error
        else:
            if result:
                return result
            last = result
        if time.monotonic() >= deadline:
            raise AssertionError(f"Timed out after {timeout:g} s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file ('' when it does not exist)."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


class Process:
    """One long-running command. Its stdout and stderr go to ``<name>.out`` and ``<name>.err`` in the log
    folder, appended across restarts so that a restarted process's history stays readable."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.stdout_path = log_dir / f"{name}.out"
        self.stderr_path = log_dir / f"{name}.err"
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> Process:
        if self.running:
            raise RuntimeError(f"{self.name} is running already")
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            # A session of its own: the whole tree (gunicorn's workers too) can be signalled at once.
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=err,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1
        return self

    def kill(self) -> int:
        """SIGKILL the process (not its children: a crash of this one process) and reap it."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, and SIGKILL to its whole process group if it has not exited within ``timeout`` s.
        Returns the exit code (negative: the signal that ended it); None when it was never started."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the tree (a worker whose master was killed) goes too.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.popen.poll() is None:
            self.popen.wait(timeout=30)
        return self.popen.returncode

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace") if self.stderr_path.exists() else ""

    def report(self, lines: int = 40) -> str:
        state = "running" if self.running else f"exited {self.popen.returncode}" if self.popen else "never started"
        parts = [f"===== {self.name} ({state}, started {self.starts} time(s)): {' '.join(self.argv)}"]
        for path in (self.stdout_path, self.stderr_path):
            text = tail(path, lines)
            if text:
                parts.append(f"----- {path.name} (last {lines} lines)\n{text}")
        return "\n".join(parts)


class Processes:
    """The processes of one test, all stopped by ``stop_all`` (call it from a fixture's teardown)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.all: dict[str, Process] = {}
        self.extra_logs: list[Path] = []

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> Process:
        process = Process(name, argv, env, self.log_dir, cwd)
        self.all[name] = process
        return process.start()

    def run(self, name: str, argv: Sequence[str], env: Mapping[str, str], timeout: float = 120.0) -> str:
        """Run a command to its end (its output logged like the others'); fail with its output unless it
        exits 0. Returns its stdout."""
        process = Process(name, argv, env, self.log_dir)
        self.all[name] = process
        process.start()
        assert process.popen is not None
        try:
            code = process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.stop()
            raise AssertionError(f"{name} did not finish in {timeout:g} s\n{process.report()}") from None
        if code != 0:
            raise AssertionError(f"{name} exited {code}\n{process.report()}")
        return process.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stop_all(self) -> dict[str, int | None]:
        # In reverse order of starting: the servers' helpers before the servers.
        return {name: process.stop() for name, process in reversed(list(self.all.items()))}

    def report(self, lines: int = 40) -> str:
        """The tail of every process's output and of every extra log: what someone needs to diagnose a failure."""
        parts = [process.report(lines) for process in self.all.values()]
        parts += [f"===== {path.parent.name}/{path.name} (last {lines} lines)\n{tail(path, lines)}"
                  for path in self.extra_logs]
        return "\n".join(parts)
