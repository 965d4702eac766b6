"""The HTTP application."""

from importlib.metadata import metadata

from fastapi import FastAPI
from pydantic import BaseModel

from {{ cookiecutter.package_name }} import __version__

_metadata = metadata("{{ cookiecutter.project_slug }}")

app = FastAPI(title=_metadata["Name"], summary=_metadata["Summary"], version=__version__)


class Health(BaseModel):
    status: str


class Greeting(BaseModel):
    message: str


@app.get("/health")
def health() -> Health:
    """Answer 200 while the process serves requests (Docker's HEALTHCHECK calls this)."""
    return Health(status="ok")


@app.get("/hello/{name}")
def hello(name: str) -> Greeting:
    """Greet someone by name."""
    return Greeting(message=f"Hello, {name}!")
