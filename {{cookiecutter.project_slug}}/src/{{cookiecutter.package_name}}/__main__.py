{%- if cookiecutter.app_type == "fastapi" -%}
"""Serve the app: ``python -m {{ cookiecutter.package_name }}``, configured by HOST and PORT."""

import os

import uvicorn

# Seconds uvicorn waits for open requests on SIGTERM, well inside docker stop's 10 s.
GRACEFUL_SHUTDOWN_SECONDS = 5


def main() -> None:
    uvicorn.run(
        "{{ cookiecutter.package_name }}.app:app",
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


if __name__ == "__main__":
    main()
{%- else -%}
"""Run the command line: ``python -m {{ cookiecutter.package_name }}``."""

from {{ cookiecutter.package_name }}.cli import main

if __name__ == "__main__":
    main()
{%- endif %}
