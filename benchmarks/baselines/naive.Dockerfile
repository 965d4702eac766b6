# Baseline 1: the naive single-stage Poetry Dockerfile (section 1, "The naive approach", of the article
# "Blazing fast Python Docker builds with Poetry" by Riccardo Albertazzi,
# https://medium.com/@albertazzir/blazing-fast-python-docker-builds-with-poetry-a78a66f5aed0).
# benchmarks/project.py replaces __PACKAGE__ with the generated project's import name and passes
# the same PYTHON_IMAGE and POETRY_VERSION as to the generated Dockerfile. Changes from the article,
# only so that it builds and runs the same app:
# - the base image and the Poetry version are build arguments (same base, same Poetry as the template);
# - WORKDIR /app instead of copying the project into /;
# - an empty README.md, which the project's .dockerignore keeps out and Poetry needs to install the project.
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
ARG POETRY_VERSION
RUN pip install poetry==${POETRY_VERSION}

WORKDIR /app
COPY . .

RUN touch README.md && poetry install

ENTRYPOINT ["poetry", "run", "python", "-m", "__PACKAGE__"]
