# Peer 2: the production stage of s3rius/FastAPI-template's generated Dockerfile
# (fastapi_template/template/{{cookiecutter.project_name}}/Dockerfile of https://github.com/s3rius/FastAPI-template,
# commit f7ed808be8d239b5a8511b146c46ee0ec7e31e06): uv, pinned, mounted from its image for the two `uv sync`
# steps and never shipped, the lock and pyproject.toml bind-mounted for the dependencies, installed into the
# base image's /usr/local, bytecode compiled (UV_COMPILE_BYTECODE=1).
# benchmarks/project.py replaces __PACKAGE__ with the generated project's import name, passes the same PYTHON_IMAGE as
# to the generated Dockerfile and the template's pinned UV_VERSION, and writes the project's uv.lock, locked
# with uv to exactly the versions of its poetry.lock.
# Changes from the template, only so that it builds and runs the same app here:
# - the `uv` stage installs the pinned uv with pip on the same base image (the template takes the image
#   ghcr.io/astral-sh/uv:0.11.7-python3.13-trixie, and no registry can be reached here), and is mounted from
#   there as the template mounts it; both stages take the base image from PYTHON_IMAGE;
# - without the database answers' apt-get lines (the app needs no compiler: every package has a wheel), the
#   Piccolo setting and the `dev` stage (the benchmark builds --target prod).
ARG PYTHON_IMAGE

FROM ${PYTHON_IMAGE} AS uv
ARG UV_VERSION
RUN pip install --no-compile --target /opt/uv "uv==${UV_VERSION}"

# -----------------------------------
# STAGE 1: prod stage
# Only install main dependencies
# -----------------------------------
FROM ${PYTHON_IMAGE} AS prod

ENV UV_COMPILE_BYTECODE=1
ENV UV_LINK_MODE=copy
ENV UV_PROJECT_ENVIRONMENT=/usr/local
ENV UV_PYTHON_DOWNLOADS=never
ENV UV_NO_MANAGED_PYTHON=1

WORKDIR /app/src

RUN --mount=from=uv,source=/opt/uv/bin/uv,target=/bin/uv \
    --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-install-project --no-dev

COPY . .

RUN --mount=from=uv,source=/opt/uv/bin/uv,target=/bin/uv \
    --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev

CMD ["/usr/local/bin/python", "-m", "__PACKAGE__"]
