"""What the benchmark measures: profiles, variants, figures, targets and the constants they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import template_harness

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR.parent
BASELINES_DIR = PACKAGE_DIR / "baselines"
PROBES_DIR = PACKAGE_DIR / "probes"
REALISTIC_MODULE = PACKAGE_DIR / "realistic" / "notes.py"
DEFAULT_JSON = TEMPLATE_DIR / "build" / "benchmark.json"
# The run docs/benchmark.md shows, kept in the repository: `python -m benchmarks --docs` writes it from a saved
# run, and `poe docs` renders the page's generated block from it (no benchmark run needed to check the block).
RECORDED_RUN = TEMPLATE_DIR / "docs" / "benchmark-run.json"
BENCHMARK_DOC = TEMPLATE_DIR / "docs" / "benchmark.md"

DEFAULT_PYTHON = "3.11"
# Every validate_build level, cheapest first; auto and full differ only where this machine lacks something.
VALIDATION_LEVELS = ("none", "static", "auto", "full")
DEFAULT_RUNS = 3
# One small pure-Python package with a wheel, added to the app's dependencies for the dependency-change rebuild.
ADDED_DEPENDENCY = "tomli>=2.0"
# What a FastAPI service grows into, pinned; each has wheels for CPython 3.11 to 3.13 on x86-64 Linux, so
# no compiler is needed. benchmarks/realistic/notes.py imports and uses every one of them.
REALISTIC_DEPENDENCIES = (
    "sqlmodel==0.0.50",
    "sqlalchemy==2.1.9",
    "alembic==1.20.1",
    "psycopg[binary]==3.3.9",
    "pydantic-settings==2.16.3",
    "httpx==0.28.1",
    "orjson==3.13.0",
    "structlog==26.1.0",
    "tenacity==9.2.1",
    "email-validator==2.4.0",
    "python-multipart==0.0.34",
    "pyjwt==2.15.1",
    "cryptography==50.0.2",
    "bcrypt==5.0.0",
    "redis==8.1.0",
    "sentry-sdk==2.75.0",
    "prometheus-client==0.26.0",
    "jinja2==3.1.6",
    "python-dateutil==4.0.0",
    "pyyaml==6.0.4",
    "rich==15.0.0",
)
BUILD_TIMEOUT = 900
COMMAND_TIMEOUT = 120
# A first 200 on a loaded machine (an import of 50 packages without bytecode) can take half a minute.
HEALTH_TIMEOUT = 120
CONTAINER_PORT = 8000
MB = 1_000_000


class BenchError(Exception):
    """A command the benchmark needs failed; the message has its output's tail."""


@dataclass(frozen=True)
class Targets:
    """The older targets of a profile, against the article's recipe measured in the same run."""

    cold_max_ratio: float
    dependency_max_ratio: float
    first_200_max_seconds: float
    code_max_seconds: float = 0.2
    code_max_share: float = 0.03


@dataclass(frozen=True)
class PeerTargets:
    """Issue 22's targets: the generated image against the best uv-era peer of the same run (ratios, at most)."""

    cold_empty: float = 0.85
    cold_warm: float = 0.80
    dependency_change: float = 0.70
    code_change_seconds: float = 0.2  # seconds, with the dependency layer CACHED
    first_200: float = 0.95
    bytes_above_base: float = 1.0  # against peers that compile bytecode too, as `generated` does


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    dependencies: tuple[str, ...]  # requirements added to the baked project, which is then relocked
    first_200_path: str  # the route the first-200 figure asks for
    targets: Targets
    peer_targets: PeerTargets = PeerTargets()


PROFILES = {
    "demo": Profile(
        "demo", "the default fastapi project as baked (fastapi, uvicorn)", (), "/health", Targets(0.30, 0.50, 1.0)
    ),
    "realistic": Profile(
        "realistic",
        "the default fastapi project grown into a service: REALISTIC_DEPENDENCIES and GET /notes, which uses them",
        REALISTIC_DEPENDENCIES,
        "/notes",
        Targets(0.40, 0.40, 1.5),
    ),
}
ALL_PROFILES = "all"
NO_PROFILE = "none"  # with --options: measure the options only


@dataclass(frozen=True)
class Variant:
    name: str
    dockerfile: str | None  # a file in benchmarks/baselines, or None for the generated project's Dockerfile
    target: str | None
    dependency_step: str  # text of the build step that installs the dependencies, to find it in the log
    venv: str  # where the runtime environment lives in the image (a glob)
    build_args: tuple[str, ...] = ()
    bytecode: bool = False  # the dependencies' bytecode is compiled at build time
    every_figure: bool = True  # False: only the cold build, the bytes and the first 200
    uv_lock: bool = False  # builds from a uv.lock (locked by the benchmark to the poetry.lock's versions)


# In the generated dependencies step, before and after the build branch (image-requirements.txt) alike.
GENERATED_DEPENDENCY_STEP = "uv pip sync"
RECIPE_DEPENDENCY_STEP = "poetry install --without dev --no-root"
# Compiles the recipe's dependencies (WORKDIR /app) to the timestamp bytecode uv compiles in the generated
# image, for the like-for-like sizes.
COMPILE_COMMAND = "python -m compileall -q -j 0 .venv/lib"
BYTECODE_ARG = "COMPILE_BYTECODE"
VARIANTS = (
    Variant(
        "generated", None, "runtime", GENERATED_DEPENDENCY_STEP, "/app/.venv", (f"{BYTECODE_ARG}=1",), bytecode=True
    ),
    Variant(
        "generated-no-bytecode",
        None,
        "runtime",
        GENERATED_DEPENDENCY_STEP,
        "/app/.venv",
        (f"{BYTECODE_ARG}=0",),
        every_figure=False,
    ),
    # astral's published uv guide, its multistage example (UV_COMPILE_BYTECODE=1).
    Variant(
        "uv-multistage",
        "uv-multistage.Dockerfile",
        None,
        "uv sync --locked --no-install-project",
        "/app/.venv",
        bytecode=True,
        uv_lock=True,
    ),
    # s3rius/FastAPI-template's production stage (UV_COMPILE_BYTECODE=1, into the base image's /usr/local).
    Variant(
        "s3rius",
        "s3rius.Dockerfile",
        "prod",
        "uv sync --locked --no-install-project --no-dev",
        "/usr/local",
        bytecode=True,
        uv_lock=True,
    ),
    # The generated poetry.toml, which `COPY . .` brings along, puts Poetry's venv in the project.
    Variant("naive", "naive.Dockerfile", None, "poetry install", "/app/.venv"),
    Variant("recipe", "recipe.Dockerfile", "runtime", RECIPE_DEPENDENCY_STEP, "/app/.venv"),
    Variant(
        "recipe-bytecode",
        "recipe.Dockerfile",
        "runtime",
        RECIPE_DEPENDENCY_STEP,
        "/app/.venv",
        bytecode=True,
        every_figure=False,
    ),
)
VARIANT_BY_NAME = {variant.name: variant for variant in VARIANTS}
# The Dockerfiles a user would pick instead of ours today: the table compares with the best of them.
PEERS = ("uv-multistage", "s3rius")
# The article's Dockerfiles: the full table's ratio columns.
BASELINES = ("naive", "recipe")
# Ours and the recipe with the same bytecode choice, for the bytes target.
SAME_BYTECODE_PAIRS = (("generated", "recipe-bytecode"), ("generated-no-bytecode", "recipe"))
# Files the uv peers' build context needs beyond the project's allowlist (.dockerignore): their lock, and the
# readme the project's metadata names (uv builds the project itself). A Dockerfile-specific ignore file
# (bench-<variant>.Dockerfile.dockerignore) adds them for those builds only.
UV_CONTEXT_FILES = ("uv.lock", "README.md")
# Rows of the post-generation hook's summary that are not validation checks.
NOT_VALIDATION_STEPS = ("template record", "poetry lock", "git init", "validation")
VALIDATION_TEXT_COLUMNS = (0, 5)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str  # "s", "MB", or "bool"


FIGURES = (
    Figure("cold_empty", "cold build, cache mounts empty", "s"),
    Figure("cold_warm", "cold build, cache mounts warm (as restored in CI)", "s"),
    Figure("code_change", "code-change rebuild", "s"),
    Figure("deps_cached", "dependency layer CACHED on code change", "bool"),
    Figure("dependency_change", "dependency-change rebuild", "s"),
    Figure("bytes_above_base", "image bytes above the base", "MB"),
    Figure("installer_bytes", "pip/setuptools/wheel/uv in runtime venv", "MB"),
    Figure("first_200", "docker run to first 200", "s"),
    # What bounds the first 200: starting a container at all, and importing the app once it runs.
    Figure("container_start", "docker run of python -c pass", "s"),
    Figure("app_import", "import of the app alone, in the image", "s"),
)
FIGURE_BY_KEY = {figure.key: figure for figure in FIGURES}
# The table: these figures, generated against the peers and the recipe, with the ratio to the best peer.
PEER_FIGURES = ("cold_empty", "cold_warm", "code_change", "dependency_change", "first_200", "bytes_above_base")


# The options part (--options): what the template's answers and settings add to the default fastapi project.
DATABASE_CHOICES = tuple(template_harness.COOKIECUTTER_JSON["database"])  # none first: the default
# The database=postgresql app makes its engine at start-up without connecting, and /health never asks the
# database: an address nothing listens on is enough for its first 200 (the engine and the driver loaded).
UNREACHABLE_DATABASE_URL = "postgresql://bench:bench@127.0.0.1:1/bench"
# What the database answer is measured on: the generated Dockerfile's figures, each a FIGURES key.
DATABASE_FIGURES = (
    "cold_empty",
    "cold_warm",
    "code_change",
    "dependency_change",
    "bytes_above_base",
    "first_200",
    "app_import",
)
# The generated pyproject's dependencies for observability (its comments name observability.py): their bytes in
# the tracing image, with what only they need, are what observability adds to it (probes/exclusive_bytes.py).
OBSERVABILITY_PACKAGES = ("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "prometheus-client")
OTLP_PORT = 4318
# Tracing off and on: the app's environment (the same image, the same stand-in OTLP receiver beside it).
TRACING_ENV = {
    "off": (),
    "on": (f"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{OTLP_PORT}", "OTEL_SERVICE_NAME=bench"),
}
# The short bounded burst: this many GETs per path, this many at a time, each timed by the client.
BURST_REQUESTS = 200
BURST_CONCURRENCY = 8
# /health is answered outside the traced app (server.py's HealthRoute); /hello/{name} is a route it traces.
BURST_PATHS = ("/health", "/hello/bench")


@dataclass
class Target:
    name: str
    met: bool
    detail: str


@dataclass
class Build:
    seconds: float
    log: str
    steps: dict[str, float] = field(default_factory=dict)
    cached: set[str] = field(default_factory=set)
