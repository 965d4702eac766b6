"""A notes service on the stack a grown FastAPI service carries (the benchmark's realistic profile).

benchmarks/project.py copies this module into the generated project's package and includes its
router in the app, so the app imports the whole stack at start-up and GET /notes uses each part: settings
from the environment, an ORM model with its table, the migration context, a PostgreSQL engine on psycopg
(configured, never connected), a password hash, a signed token, an email check, a call over HTTP to the
app's own health path with retries, structured logs, a metric, a template, and JSON, YAML and rich text.
"""

import datetime as dt
from typing import Annotated

import bcrypt
import email_validator
import httpx
import jinja2
import jwt
import orjson
import prometheus_client
import psycopg
import redis
import sentry_sdk
import sqlalchemy
import structlog
import tenacity
import yaml
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from dateutil import tz
from fastapi import APIRouter, Form, Response
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.text import Text
from sqlmodel import Field, Session, SQLModel, create_engine, func, select

from .settings import Settings as AppSettings


class NotesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTES_")

    database_url: str = "sqlite://"
    postgres_url: str = "postgresql+psycopg://notes@127.0.0.1:5432/notes"
    redis_url: str = "redis://127.0.0.1:6379/0"
    token_key: str = "benchmark-only-signing-key-of-32-bytes"


class Note(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    text: str
    author: str
    created: dt.datetime


SUMMARY = jinja2.Environment(autoescape=True).from_string("{{ count }} note(s), the last by {{ author }}")
NOTES_ADDED = prometheus_client.Counter("notes_added", "Notes added since start-up")
log = structlog.get_logger()
settings = NotesSettings()
app_settings = AppSettings.from_environment()
sentry_sdk.init(dsn=None)
# One in-memory SQLite database shared by every thread (a real deployment sets NOTES_DATABASE_URL).
engine = create_engine(
    settings.database_url, connect_args={"check_same_thread": False}, poolclass=sqlalchemy.pool.StaticPool
)
postgres = sqlalchemy.create_engine(settings.postgres_url)
cache = redis.Redis.from_url(settings.redis_url)
SQLModel.metadata.create_all(engine)
router = APIRouter()


@tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(0.1), reraise=True)
def own_health() -> int:
    url = f"http://127.0.0.1:{app_settings.port}{app_settings.health_path}"
    return httpx.get(url, timeout=2).status_code


def add_note(text: str, author: str) -> dict:
    address = email_validator.validate_email(author, check_deliverability=False).normalized
    with Session(engine) as session:
        session.add(Note(text=text, author=address, created=dt.datetime.now(tz.UTC)))
        session.commit()
        count = session.exec(select(func.count()).select_from(Note)).one()
        revision = MigrationContext.configure(session.connection()).get_current_revision()
    NOTES_ADDED.inc()
    log.info("note added", count=count, author=address)
    return {
        "summary": SUMMARY.render(count=count, author=address),
        "count": count,
        "migration_revision": revision,
        "postgres_driver": f"{postgres.dialect.driver} (libpq {psycopg.pq.version()})",
        "cache": cache.connection_pool.connection_kwargs.get("host"),
        "password_hash_ok": bcrypt.checkpw(b"secret", bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4))),
        "token": jwt.encode({"sub": address}, settings.token_key, algorithm="HS256"),
        "sealed": Fernet(Fernet.generate_key()).encrypt(text.encode()).decode(),
        "health": own_health(),
        "rich": Text.from_markup(f"[bold]{count}[/bold] notes").plain,
    }


@router.get("/notes")
def notes() -> Response:
    """Add a note and describe the stack that stored it, as JSON (and YAML in a header)."""
    payload = add_note("benchmark", "ada@example.com")
    return Response(
        orjson.dumps(payload),
        media_type="application/json",
        headers={"X-YAML-Lines": str(len(yaml.safe_dump(payload).splitlines()))},
    )


@router.post("/notes")
def post_note(text: Annotated[str, Form()], author: Annotated[str, Form()]) -> Response:
    """Add a note from a form."""
    return Response(orjson.dumps(add_note(text, author)), media_type="application/json")
