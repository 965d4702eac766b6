# Baseline 2: the final recipe (section 6, "Buildkit Cache Mounts", of the article "Blazing fast Python
# Docker builds with Poetry" by Riccardo Albertazzi,
# https://medium.com/@albertazzir/blazing-fast-python-docker-builds-with-poetry-a78a66f5aed0):
# a builder with `pip install poetry==X`, the dependencies installed with `--no-root` into an in-project
# .venv with Poetry's cache on a BuildKit cache mount, and a runtime that copies the .venv and the code.
# benchmarks/project.py replaces __PACKAGE__ with the generated project's import name and passes
# the same PYTHON_IMAGE and POETRY_VERSION as to the generated Dockerfile; its recipe-bytecode variant
# also compiles the dependencies' bytecode in the --no-root step, as the generated Dockerfile does.
# Changes from the article, only so that it builds and runs the same app:
# - one base image for both stages, a build argument (the article pairs python:3.11-buster with -slim-buster);
# - the project itself is installed after its code is copied (`poetry install --without dev`, the step of
#   the article's section 4 that section 5 drops "for a toy project"): the app reads its own package
#   metadata, and the src/ layout needs the .pth file that install writes;
# - the runtime's WORKDIR is /app, where that .pth file points, and its ENTRYPOINT is python, not
#   `poetry run` (the runtime has no Poetry).
ARG PYTHON_IMAGE

# The builder image, used to build the virtual environment
FROM ${PYTHON_IMAGE} AS builder
ARG POETRY_VERSION
RUN pip install poetry==${POETRY_VERSION}

ENV POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /app

COPY pyproject.toml poetry.lock ./
RUN touch README.md

RUN --mount=type=cache,target=$POETRY_CACHE_DIR poetry install --without dev --no-root

COPY src ./src
RUN poetry install --without dev

# The runtime image, used to just run the code provided its virtual environment
FROM ${PYTHON_IMAGE} AS runtime

ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

WORKDIR /app

COPY --from=builder ${VIRTUAL_ENV} ${VIRTUAL_ENV}

COPY src ./src

ENTRYPOINT ["python", "-m", "__PACKAGE__"]
