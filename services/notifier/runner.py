"""The notifier process: scan → fan out → claim/deliver until empty → wait; owns sessions and signals."""

from __future__ import annotations

import logging
import random
import signal
import sys
import threading
import time as _time
from collections import Counter, deque
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
from duban.settings import Settings, get_settings
from notifier import claim, deliver, fanout, metrics, retry
from notifier.deliver import Job
from notifier.scan import scan_deadlines

log = logging.getLogger("duban.notifier")
# Finished sends wait at most this long (seconds) to be recorded with others in one transaction.
RECORD_AFTER = 0.2
# Claimed and not yet recorded: at most this many batches' worth.
MAX_OUTSTANDING_BATCHES = 4


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
        # The claim's lease must outlast a send begun just before this many seconds after the claim.
        timeout = min(settings.notifier_http_timeout_seconds, settings.notifier_lease_seconds / 4)
        lease = settings.notifier_lease_seconds
        self.send_within = max(lease / 2, lease - timeout - 5)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def scan(self) -> dict[str, int]:
        now = self.clock.now()
        started = _time.perf_counter()
        spare = self.settings.notifier_scan_connections - 1 if self.engine.dialect.name == "postgresql" else 0
        helpers = [self.session() for _ in range(spare)]
        try:
            with self.session() as session:
                counts = scan_deadlines(session, now=now, settings=self.settings, helpers=helpers)
                session.commit()
        finally:
            for helper in helpers:
                helper.close()
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

    def deliver_all(self) -> dict[str, int]:
        """Claim, send and record until nothing is due, the batches overlapping (_Pipeline)."""
        return _Pipeline(self).run()

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
    # One pool for the process; only the loop (scan, fan-out, claim, record) uses the database, the
    # delivery threads never do.
    engine = engine_from_settings(settings, min_pool_size=2)
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


class _Pipeline:
    """One deliver_all. This thread claims and records; the pool's threads only send.

    Claiming and recording are decoupled: a batch is claimed whenever a thread is free (the next
    one is ready while the current one is in flight), and finished sends are recorded a batch at a
    time (one transaction for up to notifier_batch_size outcomes, or what has finished within
    RECORD_AFTER seconds), so a slow send never holds back the outcomes claimed with it. Sends to
    one endpoint (or to the SMTP server) are capped at notifier_endpoint_concurrency; an endpoint
    at its cap with `low_water` or more claimed sends waiting for it is left out of the next claims
    — its deliveries stay in the queue, where they hold no thread and no lease — and claimed again
    as soon as its backlog falls below that mark, so its next batch is ready before the current
    one drains (the cap's threads never wait on a claim).
    """

    def __init__(self, runner: Runner) -> None:
        self.r = runner
        self.batch_size = runner.settings.notifier_batch_size
        self.cap = max(1, min(runner.settings.notifier_endpoint_concurrency, runner.workers))
        self.low_water = self.cap
        self.lock = threading.Condition()
        self.parked: dict[str, deque[Job]] = {}  # waiting for one of their key's `cap` slots
        self.active: Counter[str] = Counter()  # slots taken, per key
        self.running = 0  # handed to the pool and not finished
        self.finished: list[Job] = []
        self.finished_since = 0.0  # monotonic: when the oldest unrecorded outcome arrived
        self.reopened = False  # an endpoint left out of the claims has room again

    def run(self) -> dict[str, int]:
        r = self.r
        outcomes: Counter[str] = Counter()
        outstanding = 0  # claimed and not yet recorded
        exhausted = False
        while True:
            with self.lock:
                take = self._due_for_record(outstanding)
                if take:
                    self.finished = []
                if self.reopened:
                    self.reopened = False
                    exhausted = False  # the last claim left that endpoint out: claim for it now
            if take:
                outstanding -= len(take)
                outcomes.update(self._record(take))
                if any(
                    j.delivery.assignment_id is not None and j.delivery.endpoint_id is not None for j in take
                ):
                    exhausted = False  # a settled delivery may release the next one of its assignment
                continue
            # In-flight work finishes even after SIGTERM: it is claimed, so deliver it.
            if not exhausted and not r.stop.is_set() and self._wants_work(outstanding):
                claimed = self._claim()
                if claimed is None:
                    exhausted = True
                    continue
                outcomes.update(claimed.outcomes)
                outstanding += len(claimed.jobs)
                self._dispatch(claimed.jobs)
                continue
            if outstanding == 0:
                return dict(outcomes)

            def ready(more: bool = not exhausted and not r.stop.is_set(), n: int = outstanding) -> bool:
                return bool(self._due_for_record(n)) or self.reopened or (more and self._has_room(n))

            with self.lock:
                self.lock.wait_for(ready, timeout=RECORD_AFTER)

    def _due_for_record(self, outstanding: int) -> list[Job]:
        # Called with the lock held.
        done = self.finished
        if not done:
            return []
        if (
            len(done) >= self.batch_size
            or len(done) == outstanding  # nothing else in flight
            or _time.monotonic() - self.finished_since >= RECORD_AFTER
        ):
            return done
        return []

    def _has_room(self, outstanding: int) -> bool:
        # Called with the lock held: a thread is free (or soon will be), and not too much is claimed.
        return self.running < self.r.workers and outstanding < MAX_OUTSTANDING_BATCHES * self.batch_size

    def _wants_work(self, outstanding: int) -> bool:
        with self.lock:
            return self._has_room(outstanding)

    def _claim(self) -> deliver.Batch | None:
        r = self.r
        now = r.clock.now()
        with self.lock:
            full = {
                k
                for k in self.active
                if self.active[k] >= self.cap and len(self.parked.get(k, ())) >= self.low_water
            }
        skip_endpoints = [int(k.split(":", 1)[1]) for k in full if k.startswith("endpoint:")]
        skip_channels = [k for k in full if not k.startswith("endpoint:")]
        with r.session() as session:
            claimed = claim.claim_batch(
                session,
                now=now,
                limit=self.batch_size,
                lease_seconds=r.settings.notifier_lease_seconds,
                skip_endpoints=skip_endpoints,
                skip_channels=skip_channels,
            )
            if not claimed:
                session.commit()
                return None
            try:
                batch = deliver.prepare(session, claimed, now=now, deliverer=r.deliverer)
                session.commit()
            except Exception as exc:
                if is_database_unavailable(exc):
                    raise  # the pass fails and backs off (run); the leases bring the batch back
                # The leases run out and a later pass retries them; no message is lost.
                log.exception("preparing a batch of %s deliveries failed", len(claimed))
                return None
        deliver.vet(batch.jobs, r.deliverer)
        send_by = _time.monotonic() + r.send_within
        for job in batch.jobs:
            job.send_by = send_by
        return batch

    def _dispatch(self, jobs: list[Job]) -> None:
        with self.lock:
            for job in jobs:
                if self.active[job.key] < self.cap:
                    self._start(job)
                else:
                    self.parked.setdefault(job.key, deque()).append(job)

    def _start(self, job: Job) -> None:
        # Called with the lock held.
        self.active[job.key] += 1
        self.running += 1
        self.r.pool.submit(self._work, job)

    def _work(self, job: Job) -> None:
        try:
            if _time.monotonic() <= job.send_by:
                deliver.send(job, self.r.deliverer, now=job.now or self.r.clock.now())
            # else: left unsent; record puts it back in the queue without counting an attempt
        finally:
            with self.lock:
                self.active[job.key] -= 1
                if not self.active[job.key]:
                    del self.active[job.key]
                self.running -= 1
                queue = self.parked.get(job.key)
                if queue:
                    self._start(queue.popleft())
                    if len(queue) == self.low_water - 1:
                        self.reopened = True  # its backlog just fell below the mark
                    if not queue:
                        del self.parked[job.key]
                if not self.finished:
                    self.finished_since = _time.monotonic()
                self.finished.append(job)
                if (
                    self.reopened
                    or len(self.finished) >= self.batch_size
                    or self.running == 0
                    or self.running == self.r.workers - 1
                ):
                    self.lock.notify_all()  # a batch to record, or a thread just became free

    def _record(self, jobs: list[Job]) -> list[str]:
        r = self.r
        now = r.clock.now()
        try:
            with r.session() as session:
                return deliver.record(session, jobs, now=now, deliverer=r.deliverer)
        except Exception as exc:
            if is_database_unavailable(exc):
                raise
            log.exception("recording %s deliveries failed; recording them one by one", len(jobs))
        outcomes = []
        for job in jobs:
            try:
                with r.session() as session:
                    outcomes += deliver.record(session, [job], now=now, deliverer=r.deliverer)
            except Exception as exc:
                if is_database_unavailable(exc):
                    raise
                # The lease runs out and another pass retries it; the message is not lost.
                log.exception("delivery %s could not be recorded", job.delivery.id)
                outcomes.append("error")
        return outcomes
