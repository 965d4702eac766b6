"""Secrets a developer keeps in the working tree, wherever they sit (src/ and tests/ too), reach neither the build
context nor any stage's image, while the package's own data (templates, SQL, static files) ships and is read.

The build context is an allowlist (.dockerignore) with the secret-shaped denylist applied inside it again. One
project is baked, planted and built: its context exported, every Dockerfile stage exported as a tar and searched
for the planted marker, byte by byte.
"""

import re
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import NamedTuple

import pytest

from template_harness import PACKAGE_INDEX_URL, bake, load_hook, remove_images_named, run_checked, tool_environment

PREFIX = f"template-secrets-{uuid.uuid4().hex[:8]}"
MARKER = f"do-not-ship-{uuid.uuid4().hex}"
DOCKERFILE_STAGES = load_hook("post_gen_project").DOCKERFILE_STAGES
# What developers really keep in a working tree: cloud and tool credentials, kubeconfigs, Terraform state and
# variables, env files of any name, secrets folders and files, keys and key stores, database files and dumps,
# shell histories and logs. Each is planted at the root, in the package, in a subpackage and in tests/.
SECRETS = [
    ".aws/credentials", ".aws/config", ".azure/accessTokens.json", ".config/gcloud/credentials.db",
    ".docker/config.json", ".git-credentials", ".netrc", "_netrc", ".npmrc", ".pypirc", ".pgpass", ".my.cnf",
    ".vault-token", ".htpasswd", ".boto", ".s3cfg", ".kube/config", "kubeconfig", "prod.kubeconfig",
    "kubeconfig.yaml", "terraform.tfstate", "terraform.tfstate.backup", "prod.tfvars", "prod.auto.tfvars.json",
    ".terraform/terraform.tfstate", ".terraformrc", ".env", ".env.production", ".envrc", "prod.env",
    "staging.env.local", "secrets/db-password", ".secrets/token", "app.secrets.yaml", "config.secrets.json",
    "api.secret", "secrets.json", "secrets.yaml", "secrets.toml", "credentials", "credentials.json",
    "client_credentials.yml", "gcp-service-account.json", "token.json", "github.token", "id_rsa", "id_rsa.pub",
    "id_ed25519", ".ssh/id_ecdsa", ".gnupg/pubring.kbx", "server.key", "server.pem", "apple.p8", "store.p12",
    "store.pfx", "putty.ppk", "keystore.jks", "release.keystore", "service.keytab", "passwords.kdbx",
    "backup.gpg", "vpn.ovpn", "prod.dump", "prod.pgdump", "dump.rdb", "app.db", "local.sqlite",
    "local.sqlite3", "db.bak", "backup.sql.gz", "dump.sql", "prod-dump.sql", "nightly_backup.sql",
    ".bash_history", ".psql_history", "debug.log",
]  # fmt: skip
# The package's own files that must ship, some of them named like a secret's neighbour.
PACKAGE_DATA = [
    "templates/index.html", "sql/get_item.sql", "sql/schema.sql", "migrations/0001_create.sql",
    "static/app.css", "static/logo.svg", "data/countries.json", "data/settings.yaml", "credentials.py",
    "secrets_manager.py", "keys.py", "environment.py", "tokens.py", "dump.py",
]  # fmt: skip


class Planted(NamedTuple):
    project: Path
    package: str
    image: str
    secrets: list[str]
    data: list[str]


def plant(project: Path, package: str) -> tuple[list[str], list[str]]:
    """The secrets wherever they may sit, and the package data; returns both as project-relative paths."""
    folders = [".", f"src/{package}", f"src/{package}/sub", "tests"]
    secrets = [f"{folder}/{name}".removeprefix("./") for folder in folders for name in SECRETS]
    data = [f"src/{package}/{name}" for name in PACKAGE_DATA] + ["tests/fixtures/rows.sql"]
    for path in secrets + data:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        shipped = f'"""{Path(path).name}: ships."""\n' if path.endswith(".py") else f"-- {Path(path).name}: ships\n"
        content = f"{MARKER}\n" if path in secrets else shipped
        (project / path).write_text(content, encoding="utf-8")
    (project / f"src/{package}/sub/__init__.py").touch()
    return secrets, data


@pytest.fixture(scope="module")
def planted(docker, base_image, tmp_path_factory):
    """A fastapi project, locked, with the secrets and package data planted, and its runtime image built."""
    result = bake(
        tmp_path_factory.mktemp("secrets"),
        project_slug=f"{PREFIX}-api",
        package_index_url=PACKAGE_INDEX_URL,
        lock_dependencies="yes",
        docker_base_image=base_image("3.13"),
    )
    assert result.returncode == 0, result.output
    package = f"{PREFIX}-api".replace("-", "_")
    secrets, data = plant(result.project, package)
    image = f"{PREFIX}-api:dev"
    build(docker, result.project, "--tag", image)
    yield Planted(result.project, package, image, secrets, data)
    remove_images_named(PREFIX)


def build(docker: str, project: Path, *arguments: str, dockerfile: str | None = None) -> None:
    run_checked(
        [docker, "build", *arguments, *(["--file", "-"] if dockerfile else []), "."],
        cwd=project,
        env=tool_environment(DOCKER_BUILDKIT="1", BUILDKIT_PROGRESS="plain"),
        input=dockerfile,
    )


@pytest.mark.docker
def test_the_build_context_holds_no_secret_and_all_the_package(docker, planted, tmp_path):
    project, secrets, data = planted.project, planted.secrets, planted.data
    exported = tmp_path / "context"

    build(docker, project, "--output", f"type=local,dest={exported}", dockerfile="FROM scratch\nCOPY . /\n")

    sent = {path.relative_to(exported).as_posix() for path in exported.rglob("*") if path.is_file()}
    assert sorted(set(secrets) & sent) == []
    assert set(data) <= sent
    assert {"pyproject.toml", "poetry.lock"} <= sent
    assert not [path for path in sent if MARKER in (exported / path).read_text(encoding="utf-8", errors="replace")]


@pytest.mark.docker
@pytest.mark.parametrize("stage", DOCKERFILE_STAGES)
def test_no_stage_of_the_image_holds_a_secret(docker, planted, tmp_path, stage):
    project, data = planted.project, planted.data
    tar = tmp_path / f"{stage}.tar"

    build(docker, project, "--target", stage, "--output", f"type=tar,dest={tar}")

    assert MARKER.encode() not in tar.read_bytes()
    if stage in ("app-files", "test", "runtime"):
        with tarfile.open(tar) as archive:
            names = {name.removeprefix("./") for name in archive.getnames()}
        assert {f"app/{path}" for path in data if path.startswith("src/")} <= names
    tar.unlink()


@pytest.mark.docker
def test_the_app_reads_its_package_data_in_the_image(docker, planted):
    package, image = planted.package, planted.image
    code = (
        "import importlib.resources, sys; "
        "print(importlib.resources.files(sys.argv[1]).joinpath('sql/schema.sql').read_text(), end='')"
    )

    read = run_checked([docker, "run", "--rm", "--entrypoint", "python", image, "-c", code, package], cwd=Path.cwd())

    assert read.stdout == "-- schema.sql: ships\n"


def copied_sources(dockerfile: str) -> set[str]:
    """The build-context paths the Dockerfile's COPY lines name (not those copied from a stage)."""
    sources = set()
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.MULTILINE):
        words = [word for word in line.split() if not word.startswith("--")]
        if "--from=" not in line:
            sources |= set(words[:-1])
    return sources


def test_the_context_allowlist_lets_in_what_the_dockerfile_copies(baked_project):
    for app_type in ("fastapi", "cli"):
        project = baked_project({"app_type": app_type})
        ignore = (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
        allowed = {line.removeprefix("!").rstrip("/") for line in ignore if line.startswith("!")}

        copied = {source.rstrip("/") for source in copied_sources((project / "Dockerfile").read_text(encoding="utf-8"))}

        allowing = [index for index, line in enumerate(ignore) if line.startswith("!")]
        denying = [index for index, line in enumerate(ignore) if line.startswith("**/")]
        assert ignore.index("*") < min(allowing)
        assert max(allowing) < min(denying), "the denylist must come after the allowlist, to apply inside it"
        assert copied
        assert copied <= allowed, f"allow them in .dockerignore: {sorted(copied - allowed)}"


@pytest.mark.docker
def test_a_copy_the_allowlist_misses_fails_the_build_naming_it(docker, planted, tmp_path):
    project = planted.project
    (project / "alembic.ini").write_text("[alembic]\n", encoding="utf-8")

    result = subprocess.run(
        [docker, "build", "--file", "-", "."],
        cwd=project,
        input="FROM scratch\nCOPY alembic.ini /app/\n",
        capture_output=True,
        text=True,
        env=tool_environment(DOCKER_BUILDKIT="1"),
        check=False,
    )
    (project / "alembic.ini").unlink()

    assert result.returncode != 0
    assert "alembic.ini" in result.stderr
