"""The HTTP server: uvicorn configured by the settings, with a deadline for each request's head."""

import asyncio
import resource

import h11
import uvicorn
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.h11_impl import H11Protocol

from .observability import (
    ASGIApp,
    MetricsMiddleware,
    RequestIdMiddleware,
    log_config,
    traced,
)
from .settings import Settings, get_settings

# The ASGI app, named from this package, so renaming the package needs no edit here.
ASGI_APP = f"{__package__}.app:app"
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


def raise_open_file_limit() -> None:
    """Take the whole open-file limit the system allows (the soft limit is often far below it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def service_app() -> ASGIApp:
    """The app uvicorn serves (factory=True): the package's app inside the template's layers."""
    app: ASGIApp = import_from_string(ASGI_APP)
    # Outermost first: request ids, metrics, traces (when OTEL_* ask for them), then the app.
    return RequestIdMiddleware(MetricsMiddleware(traced(app, get_settings())))


def serve(settings: Settings, *, reload: bool = False) -> None:
    """Serve the app until SIGTERM or SIGINT, which drain open requests first."""
    raise_open_file_limit()
    uvicorn.run(
        f"{__name__}:service_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config(settings),
        reload=reload,
        http=H11ProtocolWithHeaderTimeout,
        timeout_keep_alive=settings.keep_alive_timeout,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # The Server header would only tell the world which server to attack.
        server_header=False,
    )
