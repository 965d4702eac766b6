import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Settings()))


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_path_is_a_setting() -> None:
    client = TestClient(create_app(Settings(health_path="/ready")))

    assert client.get("/ready").json() == {"status": "ok"}
    assert client.get("/health").status_code == 404


def test_hello_greets_by_name(client: TestClient) -> None:
    response = client.get("/hello/Ada")

    assert response.status_code == 200
    assert response.json() == {"message": "Hello, Ada!"}


def test_openapi_describes_the_package(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert schema["info"]["version"] == __version__
{%- if cookiecutter.database == "postgresql" %}
    assert set(schema["paths"]) == {
        "/health",
        "/ready",
        "/hello/{name}",
        "/items",
        "/items/{item_id}",
    }
{%- else %}
    assert set(schema["paths"]) == {"/health", "/hello/{name}"}
{%- endif %}
    assert client.get("/docs").status_code == 200


def test_api_docs_can_be_turned_off() -> None:
    client = TestClient(create_app(Settings(api_docs=False)))

    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404
    assert client.get("/health").status_code == 200
