"""The HTTP server: uvicorn serving the app the settings name (ASGI_APP) behind the template's
layers (the health route, for any app), with a deadline for each request's head."""

import asyncio
import importlib
import resource
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import Settings, SettingsError, get_settings

# ASGI's types, as Starlette spells them (any ASGI 3 app fits, FastAPI's or not).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Seconds uvicorn waits for open requests on SIGTERM, well inside docker stop's 10 s.
GRACEFUL_SHUTDOWN_SECONDS = 5
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


class H11ProtocolWithHeaderTimeout(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose next request head is not complete
    within settings.header_timeout (uvicorn has no such deadline: a half-sent request would hold the
    connection, and a file descriptor, for ever). Idle keep-alive connections keep uvicorn's own
    timeout."""

    head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.watch_for_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.watch_for_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_watching()
        super().connection_lost(exc)

    def watch_for_head(self) -> None:
        """Start the deadline while a request head is awaited, stop it once the head is in."""
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if waiting and self.head_deadline is None:
            self.head_deadline = self.loop.call_later(
                get_settings().header_timeout, self.head_timed_out
            )
        elif not waiting:
            self.stop_watching()

    def stop_watching(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def head_timed_out(self) -> None:
        self.head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self.conn.trailing_data[0]:
                self.transport.write(REQUEST_TIMEOUT)
            self.transport.close()


class AppNotFoundError(SettingsError):
    """ASGI_APP names no module, no attribute, or something that is not an ASGI app."""


def load_app(reference: str) -> ASGIApp:
    """The object a module:attribute reference names, or an AppNotFoundError naming ASGI_APP.

    An import error raised inside the app's own modules is the app's and keeps its traceback.
    """
    module_name, _, attribute = reference.partition(":")
    problem = f"ASGI_APP={reference!r}: "
    try:
        found: object = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing != module_name and not module_name.startswith(f"{missing}."):
            raise
        raise AppNotFoundError(f"{problem}no module named {missing!r}") from None
    for name in attribute.split("."):
        if not hasattr(found, name):
            raise AppNotFoundError(f"{problem}{module_name!r} has no attribute {attribute!r}")
        found = getattr(found, name)
    if not callable(found):
        raise AppNotFoundError(f"{problem}{attribute!r} is not an ASGI app")
    return cast(ASGIApp, found)


class HealthRoute:
    """Pure ASGI middleware answering GET (and HEAD) on the health path with 200 and
    {"status": "ok"} before the app sees the request: liveness, whatever app is served (Docker's
    HEALTHCHECK asks it). Every other request, and the lifespan, goes to the app."""

    BODY = b'{"status":"ok"}'

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_health = scope["type"] == "http" and scope["path"] == self.path
        if not is_health or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        body = self.BODY if scope["method"] == "GET" else b""
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.BODY)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def service_app() -> ASGIApp:
    """The ASGI app uvicorn serves (its factory): the app ASGI_APP names, in the template's layers.

    Each layer is a pure ASGI middleware wrapping the app, outermost first:
    request ids -> metrics -> health route (and /ready where the app has none) -> the app.
    A layer of your own wraps `app` once more here, at its place in that order.
    """
    settings = get_settings()
    app = load_app(settings.asgi_app)
    # /ready (database), when the app has none, wraps the app here, inside the health route.
    app = HealthRoute(app, settings.health_path)
    # Metrics, then request ids (observability.py), wrap the health route here.
    return app


def raise_open_file_limit() -> None:
    """Take the whole open-file limit the system allows (the soft limit is often far below it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve(settings: Settings, *, reload: bool = False) -> None:
    """Serve the app until SIGTERM or SIGINT, which drain open requests first.

    A wrong ASGI_APP raises AppNotFoundError before uvicorn starts.
    """
    load_app(settings.asgi_app)
    raise_open_file_limit()
    uvicorn.run(
        f"{__name__}:{service_app.__name__}",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        reload=reload,
        http=H11ProtocolWithHeaderTimeout,
        timeout_keep_alive=settings.keep_alive_timeout,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # The Server header would only tell the world which server to attack.
        server_header=False,
    )
