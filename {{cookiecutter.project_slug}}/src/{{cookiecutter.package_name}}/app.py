"""The HTTP application (server.py serves it behind the health route: ASGI_APP names it)."""

from importlib.metadata import metadata

from fastapi import FastAPI
from pydantic import BaseModel

from . import __distribution__, __version__
from .settings import Settings, get_settings


class Greeting(BaseModel):
    message: str


def create_app(settings: Settings) -> FastAPI:
    """The app, its routes configured by these settings."""
    about = metadata(__distribution__)
    docs = settings.api_docs
    app = FastAPI(
        title=about["Name"],
        description=about["Summary"],
        version=__version__,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )

    @app.get("/hello/{name}")
    def hello(name: str) -> Greeting:
        """Greet someone by name."""
        return Greeting(message=f"Hello, {name}!")

    return app


app = create_app(get_settings())
