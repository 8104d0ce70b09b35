"""Building releases as a job: now (`flask data release`, an administrator on the data page) or on the schedule,
in a thread of each server process like the other background runners.

A build is one job with its own transactions: a short one that claims the building (so that two
processes or hosts never build at once), one read-only snapshot in which the files are written, and one
that stores them. The schedule (``RELEASE_SCHEDULE``: off, daily, weekly or monthly at ``RELEASE_HOUR``
UTC) builds only when the published data changed since the newest release: first the content version is
compared (nothing committed, nothing to do), then the digest of the tables (drafts and accounts change
the content version too, not the published data). Every host runs the schedule; the claim and the
schedule's last look, kept in the database, make one of them build and the others see it done.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from tracker.background import BackgroundRunner
from tracker.config import ConfigError
from tracker.db import Database, unit_of_work
from tracker.errors import Conflict
from tracker.models import Release
from tracker.models.types import utcnow
from tracker.services import releases
from tracker.services.releases import Progress, ReleaseSettings
from tracker.translation import gettext as _

if TYPE_CHECKING:
    from flask import Flask

EXTENSION = "tracker.releases"
# Longest pause of the scheduler between two looks (it also wakes at the next slot).
MAX_PAUSE = 3600.0


@dataclass(frozen=True)
class BuildOutcome:
    """What a build did: the release it stored, or why it stored none (``unchanged``: the published data is
    the newest release's)."""

    release: Release | None
    unchanged: bool = False

    @property
    def built(self) -> bool:
        return self.release is not None


class ReleaseRuntime:
    """Releases wired into an app: the build job and, unless the schedule is off, the scheduler thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.who = f"{socket.gethostname()}:{os.getpid()}"
        self.runner = BackgroundRunner("release-builder", self._work, interval=lambda: MAX_PAUSE,
                                       enabled=lambda: self.embedded, on_start=self._announce)

    @property
    def config(self) -> Any:
        return self.app.config

    @property
    def embedded(self) -> bool:
        # Test apps drive the schedule themselves unless a test turns the thread on.
        if self.app.testing and not self.config.get("RELEASE_EMBEDDED_IN_TESTS"):
            return False
        return bool(self.config["RELEASE_SCHEDULE"] != "off")

    @property
    def database(self) -> Database:
        return cast(Database, self.app.extensions["tracker.db"])

    def settings(self) -> ReleaseSettings:
        return ReleaseSettings.from_config(self.config)

    def stop(self, timeout: float = 10.0) -> None:
        self.runner.stop(timeout)

    def _announce(self) -> None:
        print(f"Release scheduler started in process {os.getpid()}: {self.config['RELEASE_SCHEDULE']} at "
              f"{int(self.config['RELEASE_HOUR']):02d}:00 UTC", file=sys.stderr, flush=True)

    # -----------------------------------------------------------------------------------------------

    def build(self, trigger: str, *, only_if_changed: bool = False, progress: Progress | None = None,
              now: dt.datetime | None = None) -> BuildOutcome:
        """Build a release now and store it (``only_if_changed``: unless the published data is the newest
        release's); the stored release has its files loaded.

        Raises:
            Conflict: another process is building a release now.
        """
        now = now or utcnow()
        with closing(self.database.session(write=True)) as session, unit_of_work(session):
            claimed = releases.claim(session, self.who, now)
        if not claimed:
            raise Conflict(_("A release is being built now; it will be listed here when it is done."))
        try:
            outcome = self._build_claimed(trigger, only_if_changed, progress, now)
        except BaseException:
            with closing(self.database.session(write=True)) as session, unit_of_work(session):
                releases.end_claim(session, self.who)
            raise
        return outcome

    def _build_claimed(self, trigger: str, only_if_changed: bool, progress: Progress | None,
                       now: dt.datetime) -> BuildOutcome:
        settings = self.settings()
        with closing(self.database.session()) as snapshot:
            releases.begin_snapshot(snapshot)
            newest = releases.newest_release(snapshot)
            facts = (newest.content_version, newest.content_digest) if newest is not None else None
            if only_if_changed and facts is not None and releases.content_counter(snapshot) == facts[0]:
                prepared = None
            else:
                prepared = releases.prepare_release(snapshot, settings, now=now, progress=progress)
            snapshot.rollback()
        if prepared is not None and not (only_if_changed and facts is not None
                                         and prepared.content_digest == facts[1]):
            with prepared, closing(self.database.session(write=True)) as session, unit_of_work(session):
                release = releases.store_release(session, prepared, settings, trigger)
                releases.end_claim(session, self.who)
            return BuildOutcome(release)
        if prepared is not None:
            prepared.close()
        with closing(self.database.session(write=True)) as session, unit_of_work(session):
            releases.end_claim(session, self.who, checked_at=now)
        return BuildOutcome(None, unchanged=True)

    def run_scheduled(self, now: dt.datetime | None = None) -> BuildOutcome | None:
        """Build a release if the schedule calls for one since the last look and the published data changed;
        None when it is not due (or another process is building)."""
        now = now or utcnow()
        config = self.config
        slot = releases.last_slot(config["RELEASE_SCHEDULE"], int(config["RELEASE_HOUR"]),
                                  int(config["RELEASE_WEEKDAY"]), now)
        if slot is None:
            return None
        with closing(self.database.session()) as session:
            looked = releases.last_look(session)
        if looked is not None and looked >= slot:
            return None
        try:
            return self.build("schedule", only_if_changed=True, now=now)
        except Conflict:
            return None

    def seconds_to_next_slot(self, now: dt.datetime | None = None) -> float:
        now = now or utcnow()
        config = self.config
        following = releases.next_slot(config["RELEASE_SCHEDULE"], int(config["RELEASE_HOUR"]),
                                       int(config["RELEASE_WEEKDAY"]), now)
        if following is None:
            return MAX_PAUSE
        return max(1.0, min(MAX_PAUSE, (following - now).total_seconds() + 1.0))

    def _work(self) -> float:
        with self.app.app_context():
            self.run_scheduled()
        return self.seconds_to_next_slot()


def init_releases(app: Flask) -> ReleaseRuntime:
    """Check the release settings and attach the runtime to ``app``.

    Raises:
        ConfigError: the hour, weekday or number of releases kept is out of range.
    """
    for name, low, high in (("RELEASE_HOUR", 0, 23), ("RELEASE_WEEKDAY", 0, 6), ("RELEASES_KEPT", 1, 10_000)):
        value = int(app.config[name])
        if not low <= value <= high:
            raise ConfigError(f"{name}={value} must be between {low} and {high}.")
    runtime = ReleaseRuntime(app)
    app.extensions[EXTENSION] = runtime
    return runtime


def runtime_of(app: Flask) -> ReleaseRuntime:
    return cast(ReleaseRuntime, app.extensions[EXTENSION])


def start(app: Flask) -> None:
    """Start the scheduler thread if the schedule is on and it is not running yet in this process."""
    runtime = app.extensions.get(EXTENSION)
    if runtime is not None:
        runtime.runner.start()
