"""A private package index that requires authentication, end to end, and the CI wiring for one.

The index is a real pypiserver on 127.0.0.1 with an htpasswd file and no fallback to PyPI: an authenticated
mirror holding what the project, its tools and the image's Poetry need, plus a private package the test
builds. The credentials travel only the documented way (POETRY_HTTP_BASIC_PACKAGE_INDEX_* on the host, the
BuildKit secret `netrc` that scripts/docker-build.sh passes); then the token must be nowhere: no file of the
project, no line of the hook's output, no layer, history entry or label of any stage's image.
"""

import os
import re
import secrets
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from template_harness import (
    COOKIECUTTER_JSON,
    GITHUB_WORKFLOW,
    GITLAB_CI,
    HOST_PYTHON,
    TEMPLATE_DIR,
    assert_main_ci_file_is_valid,
    bake,
    free_port,
    load_yaml,
    run_checked,
    tool_environment,
)

USERNAME = "ci-reader"
SECRET_NAME = "netrc"
CREDENTIAL_VARIABLES = ("POETRY_HTTP_BASIC_PACKAGE_INDEX_USERNAME", "POETRY_HTTP_BASIC_PACKAGE_INDEX_PASSWORD")
PRIVATE_PACKAGE = "private-greeting"
# What the cli project (main, dev and the optional template group, for every platform Poetry locks for)
# and the image's Poetry, its export plugin and uv install; pip resolves the rest of each one's
# dependencies for Linux.
MIRRORED = [
    "copier>=9.19.1,<10",
    "copier-template-extensions>=0.3.4,<0.4",
    f"poetry-plugin-export=={COOKIECUTTER_JSON['_poetry_plugin_export_version']}",
    "click",
    "pydantic-settings",
    "colorama",
    "pytest",
    "ruff",
    "mypy",
    "poethepoet",
    f"poetry=={COOKIECUTTER_JSON['poetry_version']}",
    f"uv=={COOKIECUTTER_JSON['_uv_version']}",
]
SERVER_START_SECONDS = 30
PREFIX = f"template-test-{uuid.uuid4().hex[:8]}"
INDEX_ANSWERS = {"package_index_url": "https://nexus.example.com/repository/pypi/simple/", "app_type": "cli"}


def build_private_package(poetry: str, workdir: Path, packages: Path) -> None:
    """A tiny package of the team's own, written here and built into a wheel by Poetry."""
    source = workdir / PRIVATE_PACKAGE
    (source / "private_greeting").mkdir(parents=True)
    (source / "private_greeting" / "__init__.py").write_text(
        'def greet(name: str) -> str:\n    return f"Hello from the private index, {name}"\n', encoding="utf-8"
    )
    (source / "pyproject.toml").write_text(
        f'[project]\nname = "{PRIVATE_PACKAGE}"\nversion = "1.0.0"\nrequires-python = ">=3.11"\n\n'
        '[build-system]\nrequires = ["poetry-core>=2.0,<3.0"]\nbuild-backend = "poetry.core.masonry.api"\n',
        encoding="utf-8",
    )
    run_checked([poetry, "build", "--format", "wheel", "--output", str(packages)], cwd=source)


def poetry_for_every_platform(poetry: str) -> list[str]:
    """NAME==VERSION of Poetry's own packages: its environment here, and each of its dependencies on any
    platform (poetry-requirements.txt, which the template ships) that this Python may need. `poetry install`
    adds the project's plugin (pyproject.toml's [tool.poetry.requires-plugins]) by resolving it together with
    Poetry itself, for every platform, from the project's sources: a PyPI proxy serves all of them."""
    shipped = (TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "poetry-requirements.txt").read_text(encoding="utf-8")
    platforms = [
        {"sys_platform": name, "platform_system": system, "os_name": os_name, "python_version": HOST_PYTHON}
        for name, system, os_name in (
            ("linux", "Linux", "posix"),
            ("darwin", "Darwin", "posix"),
            ("win32", "Windows", "nt"),
        )
    ]
    pins = {}
    for pin, marker in re.findall(r"(?m)^([A-Za-z0-9._-]+==[^ ;\\]+)(?: ; ([^\\\n]+?))? *\\?$", shipped):
        if not marker or any(Marker(marker).evaluate(platform) for platform in platforms):
            pins[canonicalize_name(pin.split("==")[0])] = pin
    # As installed here, where the two differ: the resolution pins Poetry's environment as it is.
    frozen = run_checked([str(Path(poetry).with_name("python")), "-m", "pip", "freeze", "--all"], cwd=Path.cwd())
    for pin in (line for line in frozen.stdout.splitlines() if "==" in line):
        pins[canonicalize_name(pin.split("==")[0])] = pin
    return sorted(pins.values())


def mirror_public_packages(packages: Path, poetry: str) -> None:
    """Wheels for Linux x86-64 and CPython HOST_PYTHON, as a PyPI proxy in front of a team's builds holds."""
    platforms = [arg for tag in ("manylinux_2_17_x86_64", "manylinux_2_28_x86_64") for arg in ("--platform", tag)]
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(packages), "--only-binary=:all:"]
    download += ["--python-version", HOST_PYTHON, "--implementation", "cp", *platforms]
    run_checked([*download, *MIRRORED], cwd=packages)
    # Each pinned on its own, for any platform: not one environment with the project's tools.
    everywhere = ["--platform", "macosx_11_0_arm64", "--platform", "macosx_10_9_universal2", "--platform", "win_amd64"]
    run_checked([*download, *everywhere, "--no-deps", *poetry_for_every_platform(poetry)], cwd=packages)


def answers_with_status(url: str, auth: tuple[str, str] | None = None) -> int:
    """The HTTP status the server answers with, 0 while nothing listens."""
    request = urllib.request.Request(url)
    if auth:
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, url, *auth)
        opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(manager))
    else:
        opener = urllib.request.build_opener()
    try:
        with opener.open(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except urllib.error.URLError:
        return 0


@pytest.fixture(scope="module")
def private_index(poetry, tmp_path_factory):
    """(url, token): pypiserver on 127.0.0.1 that answers 401 without the token; stopped by its PID."""
    from passlib.apache import HtpasswdFile

    workdir = tmp_path_factory.mktemp("private-index")
    packages = workdir / "packages"
    packages.mkdir()
    build_private_package(poetry, workdir, packages)
    mirror_public_packages(packages, poetry)
    token = f"tok-{secrets.token_hex(16)}"
    htpasswd = HtpasswdFile(str(workdir / "htpasswd"), new=True, default_scheme="apr_md5_crypt")
    htpasswd.set_password(USERNAME, token)
    htpasswd.save()

    port = free_port()
    url = f"http://127.0.0.1:{port}/simple/"
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "pypiserver", "run", "-p", str(port), "-i", "127.0.0.1"),
            *("-a", "download,list,update", "-P", str(workdir / "htpasswd"), "--disable-fallback"),
            *("--hash-algo", "sha256", str(packages)),
        ],
        stdout=(workdir / "server.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while answers_with_status(url) != 401:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"pypiserver did not start:\n{(workdir / 'server.log').read_text()}")
            time.sleep(0.2)
        assert answers_with_status(url, (USERNAME, token)) == 200
        yield url, token
    finally:
        if server.poll() is None:
            os.kill(server.pid, 15)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, 9)
            server.wait()


def credentials(token: str) -> dict:
    return dict(zip(CREDENTIAL_VARIABLES, (USERNAME, token), strict=True))


def files_holding(root: Path, token: str) -> list[str]:
    needle = token.encode()
    return [str(path) for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


def layers_holding(docker: str, image: str, token: str, workdir: Path) -> tuple[int, list[str]]:
    """(how many layer tars were read, the members of `docker save IMAGE` whose bytes hold the token)."""
    archive = workdir / f"{uuid.uuid4().hex}.tar"
    run_checked([docker, "save", "--output", str(archive), image], cwd=workdir)
    needle, layers, holding = token.encode(), 0, []
    with tarfile.open(archive) as saved:
        for member in saved.getmembers():
            if not member.isfile():
                continue
            content = saved.extractfile(member).read()
            if needle in content:
                holding.append(member.name)
            if member.name.endswith("layer.tar") or member.name.startswith("blobs/"):
                layers += 1
    archive.unlink()
    return layers, holding


@pytest.mark.slow
@pytest.mark.docker
def test_a_private_index_serves_lock_install_and_image_and_the_token_is_nowhere(
    private_index, poetry, docker, base_image, tmp_path
):
    url, token = private_index
    slug = f"{PREFIX}-private"
    # Poetry's cache is this test's own, so every package comes from the index and the cache is searched too.
    env = tool_environment(**credentials(token), POETRY_CACHE_DIR=str(tmp_path / "poetry-cache"))
    result = bake(
        tmp_path / "out",
        env=env,
        project_slug=slug,
        app_type="cli",
        python_version=HOST_PYTHON,
        ci_provider="github",
        package_index_url=url,
        docker_base_image=base_image(HOST_PYTHON),
        lock_dependencies="yes",
    )
    assert result.returncode == 0, result.output
    project = result.project
    run_checked([poetry, "add", f"{PRIVATE_PACKAGE}==1.0.0"], cwd=project, env=env)
    run_checked([poetry, "install"], cwd=project, env=env)
    # poetry add relocks; the lock task writes the image's requirements from the new lock too.
    run_checked([poetry, "run", "poe", "lock"], cwd=project, env=env)
    greeting = run_checked(
        [poetry, "run", "python", "-c", "import private_greeting as p; print(p.greet('Ada'))"], cwd=project
    )
    assert greeting.stdout.strip() == "Hello from the private index, Ada"

    build_tmp = tmp_path / "build-tmp"
    build_tmp.mkdir()
    build_env = {**env, "TMPDIR": str(build_tmp), "BUILDKIT_PROGRESS": "plain"}
    images = {"runtime": f"{slug}:dev", "test": f"{slug}:test"}
    images |= {stage: f"{slug}:{stage}" for stage in ("poetry", "dependencies")}
    try:
        run_checked([poetry, "run", "poe", "docker-build", "--network", "host"], cwd=project, env=build_env)
        run_checked([poetry, "run", "poe", "docker-test", "--network", "host"], cwd=project, env=build_env)
        for stage in ("poetry", "dependencies"):
            build = ["sh", "scripts/docker-build.sh", "--network", "host", "--target", stage]
            run_checked([*build, "--tag", images[stage], "."], cwd=project, env=build_env)
        assert list(build_tmp.iterdir()) == [], "the temporary netrc outlived the build"
        # What CI stores of the builds: the cache mounts, which held the authenticated downloads.
        saved = tmp_path / "cache-mounts"
        run_checked(["sh", "scripts/docker-cache-mounts.sh", "save", str(saved)], cwd=project, env=build_env)

        imported = run_checked(
            [docker, "run", "--rm", "--entrypoint", "python", images["runtime"], "-c", "import private_greeting"],
            cwd=project,
        )
        assert imported.returncode == 0
        for stage, image in images.items():
            layers, holding = layers_holding(docker, image, token, tmp_path)
            assert layers > 0, f"no layer of {image} was read"
            assert holding == [], f"the token is in the {stage} stage's layers"
            history = run_checked([docker, "history", "--no-trunc", "--format", "{{.CreatedBy}}", image], cwd=project)
            assert token not in history.stdout, f"the token is in the {stage} stage's docker history"
            inspected = run_checked([docker, "image", "inspect", image], cwd=project)
            assert token not in inspected.stdout, f"the token is in the {stage} stage's config or labels"
    finally:
        subprocess.run([docker, "rmi", "--force", *images.values()], capture_output=True, check=False)

    assert token not in result.output
    assert files_holding(project, token) == []
    assert files_holding(tmp_path / "poetry-cache", token) == []
    assert files_holding(saved, token) == []
    assert [path for path in saved.rglob("private_greeting*")], "the private package is on no saved cache mount"
    assert url in (project / "poetry.lock").read_text(encoding="utf-8").replace("/simple", "/simple/")


@pytest.mark.slow
@pytest.mark.docker
def test_without_credentials_install_and_build_fail_clearly(private_index, poetry, docker, base_image, tmp_path):
    url, token = private_index
    slug = f"{PREFIX}-nocreds"
    with_credentials = tool_environment(**credentials(token), POETRY_CACHE_DIR=str(tmp_path / "cache-1"))
    result = bake(
        tmp_path / "out",
        env=with_credentials,
        project_slug=slug,
        app_type="cli",
        python_version=HOST_PYTHON,
        package_index_url=url,
        docker_base_image=base_image(HOST_PYTHON),
        lock_dependencies="yes",
    )
    assert result.returncode == 0, result.output
    without = tool_environment(POETRY_CACHE_DIR=str(tmp_path / "cache-2"), BUILDKIT_PROGRESS="plain")
    for variable in CREDENTIAL_VARIABLES:
        without.pop(variable, None)

    installed = subprocess.run(
        [poetry, "install"], cwd=result.project, env=without, capture_output=True, text=True, check=False
    )
    built = subprocess.run(
        ["sh", "scripts/docker-build.sh", "--network", "host", "--no-cache", "--target", "poetry", "."],
        cwd=result.project,
        env=without,
        capture_output=True,
        text=True,
        check=False,
    )

    assert installed.returncode != 0
    assert "401" in installed.stdout + installed.stderr or "Authorization" in installed.stdout + installed.stderr
    assert built.returncode != 0
    assert "401" in built.stdout + built.stderr


@pytest.fixture(params=["github", "gitlab"])
def index_project(request, baked_project):
    return request.param, baked_project({**INDEX_ANSWERS, "ci_provider": request.param})


def test_ci_with_a_package_index_passes_its_linters(index_project, actionlint):
    provider, project = index_project
    assert_main_ci_file_is_valid(actionlint, provider, project)


def test_github_ci_gives_the_check_job_and_both_image_builds_the_credentials(baked_project):
    workflow = load_yaml(baked_project({**INDEX_ANSWERS, "ci_provider": "github"}) / GITHUB_WORKFLOW)
    jobs = workflow["jobs"]
    username, password = (f"secrets.{name}" for name in CREDENTIAL_VARIABLES)
    # Only when the secrets are set: a netrc without credentials would send an empty login to the index.
    netrc = (
        f"${{{{ {username} && format('{SECRET_NAME}=machine {{0}} login {{1}} password {{2}}', "
        f"'nexus.example.com', {username}, {password}) || '' }}}}"
    )

    assert {name: jobs["check"]["env"][name] for name in CREDENTIAL_VARIABLES} == {
        name: f"${{{{ secrets.{name} }}}}" for name in CREDENTIAL_VARIABLES
    }
    steps = [step for job in ("image", "publish") for step in jobs[job]["steps"]]
    builds = [step for step in steps if "build-push-action" in step.get("uses", "")]
    assert len(builds) == 2
    assert all(step["with"]["secrets"].strip() == netrc for step in builds)
    assert not any("build-args" in step["with"] for step in builds)


def test_gitlab_ci_passes_the_credentials_as_a_buildkit_secret(baked_project):
    project = baked_project({**INDEX_ANSWERS, "ci_provider": "gitlab"})
    pipeline = load_yaml(project / GITLAB_CI)
    build = pipeline["build"]

    assert build["variables"]["PACKAGE_INDEX_NETRC"] == (
        f"machine nexus.example.com login ${CREDENTIAL_VARIABLES[0]} password ${CREDENTIAL_VARIABLES[1]}"
    )
    script = "\n".join(build["script"])
    assert f"set -- --secret id={SECRET_NAME},env=PACKAGE_INDEX_NETRC" in script
    assert f'if [ -n "${{{CREDENTIAL_VARIABLES[0]}:-}}" ]' in script
    assert 'docker buildx build "$@"' in script
    assert "DOCKER_TLS_CERTDIR" in {**pipeline[".docker"]["variables"], **build["variables"]}


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_ci_without_a_package_index_mentions_no_credentials(baked_project, provider):
    project = baked_project({"app_type": "cli", "ci_provider": provider})
    ci_file = project / (GITHUB_WORKFLOW if provider == "github" else GITLAB_CI)
    text = ci_file.read_text(encoding="utf-8")

    assert "POETRY_HTTP_BASIC" not in text
    assert "netrc" not in text
    yaml.safe_load(text)


def test_the_readme_documents_the_private_index_route(baked_project):
    readme = (baked_project({**INDEX_ANSWERS, "ci_provider": "github"}) / "README.md").read_text(encoding="utf-8")

    assert "## Private package index" in readme
    assert all(name in readme for name in CREDENTIAL_VARIABLES)
    assert "poe docker-build --network host" in readme


def test_the_dockerfile_mounts_the_netrc_secret_on_every_installing_run(baked_project):
    dockerfile = (baked_project(INDEX_ANSWERS) / "Dockerfile").read_text(encoding="utf-8")
    runs = dockerfile.split("\nRUN ")[1:]
    installing = [body for body in runs if "pip install" in body or "poetry install" in body]
    mount = f"--mount=type=secret,id={SECRET_NAME},target=/root/.netrc"

    # uv, Poetry, the dependencies (uv), the test stage (Poetry).
    assert len(installing) == 4
    assert all(body.startswith(mount) for body in installing)
    assert mount not in dockerfile.split("FROM ${PYTHON_IMAGE} AS runtime")[1]
