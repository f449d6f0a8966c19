"""The notifier process: scan → fan out → claim/deliver until empty → wait; owns sessions and signals."""

from __future__ import annotations

import logging
import random
import signal
import sys
import threading
import time as _time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from duban import calendar_store
from duban.clock import Clock, FixedClock, SystemClock
from duban.db import engine_from_settings, is_database_unavailable, set_engine
from duban.policy import load_policies
from duban.settings import Settings, get_settings
from notifier import claim, deliver, fanout, metrics, retry
from notifier.scan import scan_deadlines

log = logging.getLogger("duban.notifier")


@dataclass
class PassResult:
    created: dict[str, int] = field(default_factory=dict)
    events: int = 0
    deliveries: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class Runner:
    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        stop: threading.Event | None = None,
        workers: int | None = None,
        sleep: Callable[[float], bool] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self.stop = stop or threading.Event()
        # Waits between passes; True means stop. Tests pass their own (no real sleeping).
        self.sleep = sleep or self.stop.wait
        self.jitter = jitter
        self.db_failures = 0
        self._down_since = 0.0
        self.workers = workers or settings.notifier_workers
        self.client = deliver.make_client(settings)
        self.deliverer = deliver.Deliverer(settings=settings, client=self.client)
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="deliver")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def scan(self) -> dict[str, int]:
        now = self.clock.now()
        started = _time.perf_counter()
        with self.session() as session:
            counts = scan_deadlines(session, now=now, settings=self.settings)
            session.commit()
        metrics.SCAN_SECONDS.observe(_time.perf_counter() - started)
        for kind, n in counts.items():
            metrics.EVENTS_CREATED.labels(kind).inc(n)
        return counts

    def fan_out_all(self) -> tuple[int, int]:
        events = deliveries = 0
        while not self.stop.is_set():
            with self.session() as session:
                res = fanout.fan_out(
                    session,
                    now=self.clock.now(),
                    settings=self.settings,
                    limit=self.settings.notifier_batch_size,
                )
            events += res.events
            deliveries += res.deliveries
            if res.events == 0:
                break
        return events, deliveries

    def _deliver(self, item: tuple[int, int], now: datetime) -> str:
        with self.session() as session:
            try:
                return deliver.deliver_one(session, item[0], item[1], now=now, deliverer=self.deliverer)
            except Exception as exc:
                if is_database_unavailable(exc):
                    raise  # the pass fails and backs off (run); the lease brings the delivery back
                # The lease runs out and another pass retries it; the message is not lost.
                log.exception("delivery %s failed unexpectedly", item[0])
                return "error"

    def deliver_all(self) -> dict[str, int]:
        outcomes: dict[str, int] = {}
        while not self.stop.is_set():
            now = self.clock.now()
            with self.session() as session:
                self.deliverer.policies = load_policies(session)
                batch = claim.claim(
                    session,
                    now=now,
                    limit=self.settings.notifier_batch_size,
                    lease_seconds=self.settings.notifier_lease_seconds,
                )
            if not batch:
                break
            # In-flight work finishes even after SIGTERM: the batch is claimed, so deliver it.
            for outcome in self.pool.map(self._deliver, batch, [now] * len(batch)):
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    def update_gauges(self) -> None:
        with self.session() as session:
            depth, age = claim.queue_stats(session, now=self.clock.now())
            session.commit()
        metrics.QUEUE_DEPTH.set(depth)
        metrics.OLDEST_PENDING_AGE.set(age)

    def one_pass(self) -> PassResult:
        result = PassResult()
        result.created = self.scan()
        # Fan out and deliver until nothing is left that is due now (a fan-out may follow deliveries:
        # a dead letter writes a delivery.failed event).
        while not self.stop.is_set():
            events, deliveries = self.fan_out_all()
            outcomes = self.deliver_all()
            result.events += events
            result.deliveries += deliveries
            for k, v in outcomes.items():
                result.outcomes[k] = result.outcomes.get(k, 0) + v
            if events == 0 and not outcomes:
                break
        self.update_gauges()
        return result

    def run(self, *, once: bool) -> int:
        try:
            while not self.stop.is_set():
                delay = self.settings.notifier_poll_seconds
                try:
                    res = self.one_pass()
                except Exception as exc:
                    if once:
                        raise
                    if is_database_unavailable(exc):
                        delay = self._database_down(exc)
                    else:
                        log.exception("notifier pass failed; retrying after the poll interval")
                else:
                    self._database_up()
                    log.info(
                        "notifier pass",
                        extra={
                            "notices": res.created,
                            "events": res.events,
                            "deliveries": res.deliveries,
                            "outcomes": res.outcomes,
                        },
                    )
                if once or self.sleep(delay):
                    break
        finally:
            self.close()
        return 0

    def _database_down(self, exc: BaseException) -> float:
        """Back off exponentially, with jitter, so replicas do not retry in step; log once."""
        self.db_failures += 1
        if self.db_failures == 1:
            self._down_since = _time.monotonic()
            log.error("database unavailable; backing off", extra={"error": type(exc).__name__})
        return retry.backoff_seconds(
            self.db_failures,
            jitter=self.jitter(),
            base=self.settings.notifier_db_backoff_seconds,
            cap=self.settings.notifier_db_backoff_max_seconds,
        )

    def _database_up(self) -> None:
        if self.db_failures:
            log.warning(
                "database available again",
                extra={
                    "failed_passes": self.db_failures,
                    "down_seconds": round(_time.monotonic() - self._down_since, 1),
                },
            )
            self.db_failures = 0


def preview(
    *, engine: Engine, clock: Clock, settings: Settings, out: Any = None, as_json: bool = False
) -> int:
    """Everything a pass would create and send, as a table (or JSON); the transaction is rolled
    back, nothing is sent."""
    from notifier import preview as dry_run

    return dry_run.run(
        engine=engine, now=clock.now(), settings=settings, out=out or sys.stdout, as_json=as_json
    )


def main(
    once: bool = False, as_of: datetime | None = None, dry_run: bool = False, as_json: bool = False
) -> int:
    from duban.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json, lambda: None)
    calendar_store.install(settings.calendar_check_seconds)
    clock: Clock = FixedClock(as_of) if as_of is not None else SystemClock()
    # One pool for the process, with a connection for each delivery thread and the scan/claim loop.
    engine = engine_from_settings(settings, min_pool_size=settings.notifier_workers + 2)
    set_engine(engine)
    if dry_run:
        return preview(engine=engine, clock=clock, settings=settings, as_json=as_json)
    if settings.notifier_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.notifier_metrics_port, addr=settings.notifier_metrics_host)
    runner = Runner(engine=engine, clock=clock, settings=settings)

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: finishing in-flight work, then stopping", signum)
        runner.stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    return runner.run(once=once)
