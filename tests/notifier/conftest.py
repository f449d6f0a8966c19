from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session

from duban.models import Role, UnitKind, WebhookEndpoint
from duban.settings import Settings
from duban.signing import new_secret
from tests.factories import make_assignment, make_unit, make_user


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on loopback; `respond` decides each answer (status, headers, body)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    respond: Callable[[Received], tuple[int, dict[str, str], bytes]] = lambda r: (200, {}, b"ok")
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers.get("webhook-id", "") for r in self.requests]

    def wait_for(self, n: int, timeout: float = 30.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= n, timeout=timeout)


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length", 0))
            req = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
            )
            status, headers, body = receiver.respond(req)
            with receiver.lock:
                receiver.requests.append(req)
            with receiver.arrived:
                receiver.arrived.notify_all()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return receiver, server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec, server = start_receiver()
    yield rec
    server.shutdown()
    server.server_close()


class MailSink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[MailSink, int]]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
def settings() -> Settings:
    return Settings(
        webhook_allow_private=True,
        notifier_max_attempts=3,
        public_url="https://duban.example.gov.cn",
        smtp_host="",
        timezone="Asia/Shanghai",
    )


@dataclass
class World:
    office_unit: Any
    leadership_unit: Any
    unit: Any
    head: Any
    staff: Any
    office_user: Any
    leader: Any
    assignment: Any


def make_world(session: Session, **assignment_kw: Any) -> World:
    office_unit = make_unit(session, kind=UnitKind.office)
    leadership = make_unit(session, kind=UnitKind.leadership)
    unit = make_unit(session, contact_email="keji@example.gov.cn")
    head = make_user(session, roles=[Role.unit_head], unit_id=unit.id, email="head@example.gov.cn")
    staff = make_user(session, roles=[Role.unit_staff], unit_id=unit.id, email="staff@example.gov.cn")
    office_user = make_user(
        session, roles=[Role.office], unit_id=office_unit.id, email="office@example.gov.cn"
    )
    leader = make_user(session, roles=[Role.leader], unit_id=leadership.id, email="leader@example.gov.cn")
    assignment = make_assignment(session, unit=unit, **assignment_kw)
    session.commit()
    return World(office_unit, leadership, unit, head, staff, office_user, leader, assignment)


def add_endpoint(session: Session, url: str, **kw: Any) -> WebhookEndpoint:
    ep = WebhookEndpoint(
        url=url, secret=kw.pop("secret", new_secret()), rate_limit_per_minute=kw.pop("rate", 0), **kw
    )
    session.add(ep)
    session.commit()
    return ep
