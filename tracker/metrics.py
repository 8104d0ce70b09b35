"""Prometheus metrics of this process: the instruments that count as work happens, and their exposition.

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` names a directory every worker process writes its samples to
(prometheus_client reads the variable as it is imported, so the server sets it before starting); a scrape,
answered by any one worker, then adds up the files of all of them. Figures read from the database at scrape
time (tracker.services.monitoring) are collected by the worker answering, never stored in those files.
"""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from tracker.config import ConfigError

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The *_created series (when each series began) double the output for nothing a dashboard uses.
disable_created_metrics()

# Seconds: most pages answer within tens of milliseconds; exports and imports may take many seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Labelled by the route (the endpoint's name), never by the path: the number of series stays bounded
# whatever addresses clients ask for.
REQUESTS = Counter("tracker_http_requests", "HTTP requests answered, by route, method and status.",
                   ("route", "method", "status"))
REQUEST_SECONDS = Histogram("tracker_http_request_duration_seconds",
                            "Time to answer an HTTP request, by route, method and status.",
                            ("route", "method", "status"), buckets=REQUEST_BUCKETS)
SEARCH_SECONDS = Histogram("tracker_search_duration_seconds",
                           "Time of a search (index lookup and hydration from the database), by kind: records "
                           "(the search page, API and downloads) or passages (of attached texts).",
                           ("kind",), buckets=SEARCH_BUCKETS)


def multiprocess_directory() -> str | None:
    """The directory the worker processes share their samples in, when the server set one."""
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


class _Collected:
    """Hands a registry's metrics on to another registry at collection time (no names described, so that
    registering it checks nothing and costs nothing)."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator:
        for collector in self.collectors:
            yield from collector.collect()


def exposition(*scrape_time: Collector) -> bytes:
    """The text exposition of this process's metrics (or, in multiprocess mode, of every worker's), plus
    what ``scrape_time`` collectors read as they are asked."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_directory()
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_Collected([REGISTRY]))
    for collector in scrape_time:
        registry.register(collector)
    return generate_latest(registry)


def forget_process(pid: int) -> None:
    """In multiprocess mode, drop the live-process gauges of a worker that exited (its counters stay)."""
    directory = multiprocess_directory()
    if directory:
        mark_process_dead(pid, directory)


def allowed_networks(setting: str) -> tuple[Network, ...]:
    """The networks of METRICS_ALLOW: addresses or CIDR networks separated by commas (empty: none).

    Raises:
        ConfigError: an entry is neither an address nor a network.
    """
    networks = []
    for entry in (word.strip() for word in setting.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(f"METRICS_ALLOW: {entry!r} is neither an IP address nor a network such as "
                              f"10.0.0.0/8.") from None
    return tuple(networks)
