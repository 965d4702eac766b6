import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.server import ASGIApp, HealthRoute, Message, service_app
from {{ cookiecutter.package_name }}.settings import Settings, get_settings


@dataclass
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(app: ASGIApp, path: str, method: str = "GET") -> Answer:
    """One request through the ASGI interface, as a server makes it: no HTTP client needed (so none
    of the template's can collide with the one your app locks)."""

    async def exchange() -> Answer:
        sent: list[Message] = []
        done = asyncio.Event()

        async def receive() -> Message:
            if not sent:
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

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
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        await app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return Answer(sent[0]["status"], body)

    return asyncio.run(exchange())


@pytest.fixture
def app() -> ASGIApp:
    return create_app(Settings())


async def not_found(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app of the plainest kind, which knows no route at all."""
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"not here"})


def served_app(monkeypatch: pytest.MonkeyPatch, asgi_app: str) -> ASGIApp:
    """service_app() with ASGI_APP set to this reference (whatever settings.py's default names)."""
    monkeypatch.setenv("ASGI_APP", asgi_app)
    get_settings.cache_clear()
    try:
        return service_app()
    finally:
        get_settings.cache_clear()


def test_the_served_app_answers_health_and_its_own_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    served = served_app(monkeypatch, "{{ cookiecutter.package_name }}.app:app")

    assert call(served, "/health").json() == {"status": "ok"}
    assert call(served, "/hello/Ada").json() == {"message": "Hello, Ada!"}


def test_health_answers_for_any_app_and_only_on_its_path() -> None:
    served = HealthRoute(not_found, "/ready")

    assert call(served, "/ready").json() == {"status": "ok"}
    assert call(served, "/ready", method="HEAD") == Answer(200, b"")
    assert call(served, "/ready", method="POST") == Answer(404, b"not here")
    assert call(served, "/health") == Answer(404, b"not here")


def test_asgi_app_names_the_served_app(monkeypatch: pytest.MonkeyPatch) -> None:
    served = served_app(monkeypatch, f"{__name__}:not_found")

    assert call(served, "/health").json() == {"status": "ok"}
    assert call(served, "/hello/Ada") == Answer(404, b"not here")


def test_hello_greets_by_name(app: ASGIApp) -> None:
    answer = call(app, "/hello/Ada")

    assert answer.status == 200
    assert answer.json() == {"message": "Hello, Ada!"}


def test_openapi_describes_the_package(app: ASGIApp) -> None:
    schema = call(app, "/openapi.json").json()

    assert schema["info"]["version"] == __version__
    assert set(schema["paths"]) == {"/hello/{name}"}
    assert call(app, "/docs").status == 200


def test_api_docs_can_be_turned_off() -> None:
    app = create_app(Settings(api_docs=False))

    for path in ("/docs", "/redoc", "/openapi.json"):
        assert call(app, path).status == 404
    assert call(app, "/hello/Ada").status == 200
