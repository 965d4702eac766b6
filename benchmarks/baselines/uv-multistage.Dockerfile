# Peer 1: astral's uv Docker guide, its multistage example ("Using uv in Docker",
# https://docs.astral.sh/uv/guides/integration/docker/; multistage.Dockerfile of
# https://github.com/astral-sh/uv-docker-example, commit 00701a3361b9bdc896f8549fb9f890f99d115824).
# benchmarks/project.py replaces __PACKAGE__ with the generated project's import name, passes the same PYTHON_IMAGE as
# to the generated Dockerfile and the template's pinned UV_VERSION, and writes the project's uv.lock, locked
# with uv to exactly the versions of its poetry.lock. Like the example, it compiles bytecode (UV_COMPILE_BYTECODE=1).
# Changes from the example, only so that it builds and runs the same app here:
# - uv comes from a first stage that installs the pinned uv with pip on the same base image (the guide
#   copies it from ghcr.io/astral-sh/uv, and no registry can be reached here), and the builder is that
#   same base image rather than astral's uv image: "it is important to use the image that matches the builder";
# - the command runs the app's module, as the recipe does (the example's `fastapi run` comes with
#   fastapi[standard], which the app does not depend on).
ARG PYTHON_IMAGE

FROM ${PYTHON_IMAGE} AS uv
ARG UV_VERSION
RUN pip install --no-compile --target /opt/uv "uv==${UV_VERSION}"

# First, build the application in the `/app` directory.
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /opt/uv/bin/uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy

# Omit development dependencies
ENV UV_NO_DEV=1

# Disable Python downloads, because we want to use the system interpreter
# across both images.
ENV UV_PYTHON_DOWNLOADS=0

WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-install-project
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked


# Then, use a final image without uv
FROM ${PYTHON_IMAGE}

# Setup a non-root user
RUN groupadd --system --gid 999 nonroot \
 && useradd --system --gid 999 --uid 999 --create-home nonroot

# Copy the application from the builder
COPY --from=builder --chown=nonroot:nonroot /app /app

# Place executables in the environment at the front of the path
ENV PATH="/app/.venv/bin:$PATH"

# Use the non-root user to run our application
USER nonroot

# Use `/app` as the working directory
WORKDIR /app

CMD ["python", "-m", "__PACKAGE__"]
