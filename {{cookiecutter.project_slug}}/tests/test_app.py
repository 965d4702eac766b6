import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.app import app


@pytest.fixture
def client() -> TestClient:
    return TestClient(app)


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_hello_greets_by_name(client: TestClient) -> None:
    response = client.get("/hello/Ada")

    assert response.status_code == 200
    assert response.json() == {"message": "Hello, Ada!"}


def test_openapi_describes_the_package(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert schema["info"]["version"] == __version__
    assert set(schema["paths"]) == {"/health", "/hello/{name}"}
