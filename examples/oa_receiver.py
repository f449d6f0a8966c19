"""An example receiver for Duban's webhooks, for the OA system's integrators.

    python examples/oa_receiver.py --port 9000 --secret whsec_... [--secret whsec_old...] \
        [--seen seen.sqlite3] [--out events.jsonl]

What it shows:

* **Verify** every request with the `standardwebhooks` package (the same library Svix publishes):
  `webhook-id`, `webhook-timestamp` (refused when more than 5 minutes off), `webhook-signature`.
  During a secret rotation Duban signs with both secrets (`v1,<new> v1,<old>`), so a receiver
  holding either one verifies; pass `--secret` twice while you switch over.
* **Deduplicate** by `webhook-id`: delivery is at-least-once (a retry after a lost answer, a manual
  redelivery), and the id is stable. Ids are kept in SQLite (`--seen`), so a restart remembers them.
* **Answer fast**: verify, record the id, put the event on a queue, answer 204 — the work happens on
  a worker thread. Duban waits at most 10 s and retries anything that is not 2xx; a slow handler
  would turn into duplicate deliveries.
* Events of one assignment arrive in order (Duban holds the next one until the previous is
  accepted), and the single worker keeps that order.

Only the standard library and `standardwebhooks` (pip install standardwebhooks).
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import sqlite3
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

log = logging.getLogger("oa_receiver")


class SeenIds:
    """webhook-ids already accepted; `add` is atomic, so two concurrent copies enqueue once."""

    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at TEXT DEFAULT CURRENT_TIMESTAMP)"
        )
        self._lock = threading.Lock()

    def add(self, message_id: str) -> bool:
        """True the first time an id is seen."""
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO seen (id) VALUES (?)", (message_id,))
            return cur.rowcount == 1

    def forget(self, message_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM seen WHERE id = ?", (message_id,))


class Receiver:
    def __init__(
        self,
        secrets: list[str],
        handle: Callable[[str, dict[str, Any]], None],
        *,
        seen: SeenIds | None = None,
        max_queue: int = 10_000,
    ) -> None:
        if not secrets:
            raise ValueError("at least one whsec_ secret")
        self.verifiers = [Webhook(s) for s in secrets]
        self.handle = handle
        self.seen = seen or SeenIds()
        self.queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(maxsize=max_queue)
        self.stats = {"accepted": 0, "duplicates": 0, "rejected": 0, "processed": 0, "errors": 0}
        self._lock = threading.Lock()
        self.worker = threading.Thread(target=self._work, name="oa-worker", daemon=True)

    def count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        for wh in self.verifiers:
            try:
                payload = wh.verify(body, headers)
            except WebhookVerificationError:
                continue
            return payload if isinstance(payload, dict) else None
        return None

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        """The whole request path: verify, deduplicate, enqueue. Returns the status to answer."""
        payload = self.verify(body, headers)
        if payload is None:
            self.count("rejected")
            return 401
        message_id = headers["webhook-id"]
        if not self.seen.add(message_id):
            self.count("duplicates")
            return 200  # already have it: say so, or Duban will keep retrying
        try:
            self.queue.put_nowait((message_id, payload))
        except queue.Full:
            self.seen.forget(message_id)
            return 503  # Duban retries later
        self.count("accepted")
        return 204

    def _work(self) -> None:
        while (item := self.queue.get()) is not None:
            message_id, payload = item
            try:
                self.handle(message_id, payload)
                self.count("processed")
            except Exception:  # keep the worker alive; a real OA would park the event for review
                log.exception("handling %s failed", message_id)
                self.count("errors")
            finally:
                self.queue.task_done()

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = receiver.receive(body, {k.lower(): v for k, v in self.headers.items()})
                self._answer(status, b"" if status == 204 else b"{}")

            def do_GET(self) -> None:  # noqa: N802 - /stats, for monitoring (and the test)
                body = json.dumps({**receiver.stats, "queued": receiver.queue.qsize()}).encode()
                self._answer(200, body)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                if status == 503:
                    self.send_header("retry-after", "30")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        self.worker.start()
        return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Duban webhook receiver (example)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", action="append", required=True, help="whsec_…; twice during a rotation")
    parser.add_argument("--seen", default=":memory:", help="SQLite file of accepted webhook-ids")
    parser.add_argument("--out", help="append each event as a JSON line here (default: stdout)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    out = open(args.out, "a", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    write_lock = threading.Lock()

    def handle(message_id: str, payload: dict[str, Any]) -> None:
        # The OA system's own work goes here: create a 督办 item, update a document's status …
        line = json.dumps({"webhook_id": message_id, **payload}, ensure_ascii=False)
        with write_lock:
            out.write(line + "\n")
            out.flush()

    receiver = Receiver(args.secret, handle, seen=SeenIds(args.seen))
    server = receiver.serve(args.host, args.port)
    log.info("listening on http://%s:%s", args.host, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        receiver.queue.put(None)
        receiver.worker.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
