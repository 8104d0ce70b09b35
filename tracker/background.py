"""One background mechanism: a thread per process that does a job when woken after a commit, or on its own
every few seconds, restarted after a fork, stopped cleanly, and kept alive through failures with a logged
back-off. The search indexer and the notification worker each run in one."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# Pauses after a failure: 1 s, 2 s, 4 s … at most a minute, so a broken database is not hammered.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0


class BackgroundRunner:
    """Runs ``step`` in a daemon thread: at once when started, whenever ``nudge`` is called, and otherwise
    every ``interval()`` seconds. ``step`` returns how long to wait before it runs again unless woken
    (None: ``interval()``). ``enabled()`` says whether this process should run it at all (an embedded
    worker, not an external one); ``on_start`` is told when the thread starts (to say where mail goes)."""

    def __init__(self, name: str, step: Callable[[], float | None], *, interval: Callable[[], float],
                 enabled: Callable[[], bool] = lambda: True, on_start: Callable[[], None] | None = None) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.enabled = enabled
        self.on_start = on_start
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @property
    def stopping(self) -> threading.Event:
        """Set while the runner is being stopped: a long job can look at it and finish early."""
        return self._stop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def start(self) -> None:
        """Start the thread if this process does not run it yet (a server process booting)."""
        if not self.running:
            self.nudge()

    def nudge(self) -> None:
        """Run the job soon (starting the thread when needed); nothing when disabled or stopping."""
        if not self.enabled() or self._stop.is_set():
            return
        with self._lock:
            if self._pid != os.getpid():  # forked (gunicorn): threads do not survive a fork
                self._pid, self._thread = os.getpid(), None
                self._wake = threading.Event()
            if self._thread is None or not self._thread.is_alive():
                if self.on_start is not None:
                    self.on_start()
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current run of the job, and allow a later start."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self._stop = threading.Event()

    def _run(self) -> None:
        stop, wake = self._stop, self._wake
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            wake.clear()
            try:
                pause = self.step()
            except Exception:  # the job is retried; its state is in the database, not in this thread
                log.exception("%s failed; it runs again in %.0f s", self.name, backoff)
                pause, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
            else:
                backoff = FIRST_BACKOFF
            if stop.is_set():
                break
            wake.wait(self.interval() if pause is None else pause)
