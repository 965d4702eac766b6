"""The HTTP application (server.py serves it behind the health route: ASGI_APP names it)."""
{%- set database = cookiecutter.database == "postgresql" %}

import logging
{%- if database %}
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
{%- endif %}
from importlib.metadata import metadata
{%- if database %}
from typing import Annotated, Any
{%- endif %}

from fastapi import {% if database %}Depends, {% endif %}FastAPI{% if database %}, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse{% endif %}
from pydantic import BaseModel{% if database %}, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker{% endif %}

from . import __distribution__, __version__
{%- if database %}
from .database import (
    NOT_CONFIGURED,
    create_engine_from,
    database_answers,
    describe_database_error,
)
from .models import ITEM_NAME_LENGTH, Item
from .observability import observed
{%- endif %}
from .settings import Settings, get_settings

logger = logging.getLogger(__name__)
{%- if database %}


class Health(BaseModel):
    status: str
{%- endif %}


class Greeting(BaseModel):
    message: str
{%- if database %}


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=ITEM_NAME_LENGTH)


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


def database_lifespan(
    settings: Settings,
) -> Callable[[FastAPI], AbstractAsyncContextManager[dict[str, Any]]]:
    """The engine, made at start-up and disposed of at shutdown, its pool on /metrics and its
    statements traced meanwhile (observability.py); its sessions reach each request as
    request.state.sessions. Without DATABASE_URL the app still starts; /ready answers 503."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        if settings.database_url is None:
            logger.warning(NOT_CONFIGURED)
            yield {"engine": None, "sessions": None}
            return
        engine = create_engine_from(settings)
        try:
            with observed(engine, settings):
                yield {"engine": engine, "sessions": sessionmaker(engine, expire_on_commit=False)}
        finally:
            engine.dispose()

    return lifespan


def database_session(request: Request) -> Iterator[Session]:
    """A session for one request, closed after it (its transaction rolled back unless committed)."""
    sessions: sessionmaker[Session] | None = request.state.sessions
    if sessions is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NOT_CONFIGURED)
    with sessions() as session:
        yield session


DatabaseSession = Annotated[Session, Depends(database_session)]
{%- endif %}


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
{%- if database %}
        lifespan=database_lifespan(settings),
{%- endif %}
    )

{%- if database %}

    @app.exception_handler(OperationalError)
    def database_unavailable(request: Request, error: OperationalError) -> JSONResponse:
        """A database that does not answer is a 503 (try again later), logged in one line."""
        logger.warning("the database: %s", describe_database_error(error))
        return JSONResponse(
            {"detail": "the database is unavailable"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.get("/ready", responses={503: {"model": Health}})
    def ready(request: Request, response: Response) -> Health:
        """Answer 200 when the database answers, 503 when it does not (a load balancer's readiness
        probe: traffic waits, the container stays)."""
        engine = request.state.engine
        if engine is not None and database_answers(engine):
            return Health(status="ok")
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable")
{%- endif %}

    @app.get("/hello/{name}")
    def hello(name: str) -> Greeting:
        """Greet someone by name."""
        logger.info("greeting %s", name)
        return Greeting(message=f"Hello, {name}!")
{%- if database %}

    @app.post("/items", status_code=status.HTTP_201_CREATED)
    def create_item(new: NewItem, session: DatabaseSession) -> ItemOut:
        """Store an item (the example resource: replace it with your own)."""
        item = Item(name=new.name)
        session.add(item)
        session.commit()
        return ItemOut.model_validate(item)

    @app.get("/items/{item_id}", responses={404: {"description": "No such item"}})
    def read_item(item_id: int, session: DatabaseSession) -> ItemOut:
        """An item by its id."""
        item = session.get(Item, item_id)
        if item is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no item {item_id}")
        return ItemOut.model_validate(item)
{%- endif %}

    return app


app = create_app(get_settings())
