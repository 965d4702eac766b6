from typing import Any

import pytest

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.observability import ASGIApp
from {{ cookiecutter.package_name }}.server import HealthRoute, service_app
from {{ cookiecutter.package_name }}.settings import Settings, get_settings

from .asgi import Answer, Client


def parts(answer: Answer) -> tuple[int, bytes]:
    """An answer's status and body."""
    return answer.status, answer.body


@pytest.fixture
def client() -> Client:
    return Client(create_app(Settings()))


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
    client = Client(served_app(monkeypatch, "{{ cookiecutter.package_name }}.app:app"))

    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/hello/Ada").json() == {"message": "Hello, Ada!"}


def test_health_answers_for_any_app_and_only_on_its_path() -> None:
    client = Client(HealthRoute(not_found, "/ready"))

    assert client.get("/ready").json() == {"status": "ok"}
    assert parts(client.request("HEAD", "/ready")) == (200, b"")
    assert parts(client.request("POST", "/ready")) == (404, b"not here")
    assert parts(client.get("/health")) == (404, b"not here")


def test_asgi_app_names_the_served_app(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(served_app(monkeypatch, f"{__name__}:not_found"))

    assert client.get("/health").json() == {"status": "ok"}
    assert parts(client.get("/hello/Ada")) == (404, b"not here")


def test_hello_greets_by_name(client: Client) -> None:
    answer = client.get("/hello/Ada")

    assert answer.status == 200
    assert answer.json() == {"message": "Hello, Ada!"}


def test_openapi_describes_the_package(client: Client) -> None:
    schema = client.get("/openapi.json").json()

    assert schema["info"]["version"] == __version__
{%- if cookiecutter.database == "postgresql" %}
    assert set(schema["paths"]) == {"/ready", "/hello/{name}", "/items", "/items/{item_id}"}
{%- else %}
    assert set(schema["paths"]) == {"/hello/{name}"}
{%- endif %}
    assert client.get("/docs").status == 200


def test_api_docs_can_be_turned_off() -> None:
    client = Client(create_app(Settings(api_docs=False)))

    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status == 404
    assert client.get("/hello/Ada").status == 200
