"""Calling the app in tests: requests through its ASGI interface, as uvicorn makes them (no HTTP
client, so none the template would add can collide with the one your app locks), and a free port
for a test that starts the real server."""

import asyncio
import contextvars
import socket
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from json import dumps, loads
from types import TracebackType
from typing import Any, Self

from {{ cookiecutter.package_name }}.observability import ASGIApp, Message, Scope


@dataclass(frozen=True)
class Answer:
    """The app's response: its status, its headers (by lower-case name) and its body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return loads(self.body)


class Client:
    """Requests to an ASGI app. Inside ``with Client(app) as client:`` the app's lifespan runs
    around them (its start-up before the first, its shutdown at the end, each request seeing the
    state start-up made), as a server runs it; outside, the app has no lifespan."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.runner: asyncio.Runner | None = None

    def get(self, path: str, headers: Mapping[str, str | bytes] | None = None) -> Answer:
        return self.request("GET", path, headers)

    def post(self, path: str, json: object = None) -> Answer:
        return self.request("POST", path, json=json)

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str | bytes] | None = None,
        json: object = None,
    ) -> Answer:
        """One request; ``json``, when given, is its body, sent as application/json."""
        body = b"" if json is None else dumps(json).encode()
        fields: dict[str, str | bytes] = {"host": "testserver", **(headers or {})}
        if json is not None:
            fields |= {"content-type": "application/json", "content-length": str(len(body))}
        raw = [
            (name.lower().encode(), value if isinstance(value, bytes) else value.encode())
            for name, value in fields.items()
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": dict(self.state),
        }
        return self.run(exchange(self.app, scope, body))

    def run(self, coroutine: Coroutine[Any, Any, Answer]) -> Answer:
        """The request in the lifespan's event loop, or in one of its own outside ``with``; in a
        copy of the test's context either way, as a server runs each request in a task of its
        own."""
        if self.runner is None:
            return asyncio.run(coroutine)
        return self.runner.run(coroutine, context=contextvars.copy_context())

    def __enter__(self) -> Self:
        self.runner = asyncio.Runner()
        self.lifespan = Lifespan(self.app, self.state)
        try:
            self.runner.run(self.lifespan.event("startup"))
        except BaseException:
            self.runner.close()
            self.runner = None
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self.runner is not None
        try:
            self.runner.run(self.lifespan.event("shutdown"))
        finally:
            self.runner.close()
            self.runner = None


class Lifespan:
    """The app's lifespan: a task in the event loop of its first event, sent each event in turn."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Future[None] | None = None

    async def event(self, name: str) -> None:
        """Send lifespan.<name> (the first starts the app's lifespan) and wait for the app to
        complete it; raise if it fails."""
        if self.task is None:
            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
            self.task = asyncio.ensure_future(self.app(scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": f"lifespan.{name}"})
        answer = asyncio.ensure_future(self.from_app.get())
        either: set[asyncio.Future[Any]] = {answer, self.task}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            self.task.result()
            raise RuntimeError(f"the app ended its lifespan without answering lifespan.{name}")
        completed = answer.result()["type"] == f"lifespan.{name}.complete"
        if completed and name == "startup":
            return
        # The lifespan ends after shutdown, and after a failure (Starlette raising its exception).
        await self.task
        if not completed:
            raise RuntimeError(f"lifespan.{name} failed: {answer.result().get('message', '')}")


async def exchange(app: ASGIApp, scope: Scope, body: bytes) -> Answer:
    """One request and its whole response: the body in one message, then a disconnect once the
    app has answered."""
    request: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[Message] = []
    answered = asyncio.Event()

    async def receive() -> Message:
        if request:
            return request.pop()
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    await app(scope, receive, send)
    start = sent[0]
    headers = {name.decode().lower(): value.decode() for name, value in start.get("headers", [])}
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], headers, content)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, for a server the test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
