"""The benchmark's project: baked, grown into the profile's service, locked with Poetry and with uv, and edited
for the code-change and dependency-change rebuilds (always restored)."""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import template_harness
from template_harness import PACKAGE_INDEX_URL

from .commands import UV_VERSION, log, run, tool_env
from .config import (
    ADDED_DEPENDENCY,
    BASELINES_DIR,
    BYTECODE_ARG,
    COMPILE_COMMAND,
    REALISTIC_MODULE,
    RECIPE_DEPENDENCY_STEP,
    UV_CONTEXT_FILES,
    VARIANTS,
    BenchError,
    Profile,
)

UV_LOCK_TIMEOUT = 300


PYPROJECT, POETRY_LOCK, UV_LOCK = "pyproject.toml", "poetry.lock", "uv.lock"
# Files the project derives from poetry.lock, and the project's own command that writes each (`poe lock` runs
# it after locking); the benchmark runs it after each of its relocks, when the project has it.
DERIVED_FROM_LOCK = {"image-requirements.txt": ("scripts/image-requirements.py",)}


@dataclass
class Project:
    path: Path
    package: str
    dockerfiles: dict[str, Path]
    locked: dict[str, str]  # file name -> text: pyproject.toml, poetry.lock and the files locked from them
    changed: dict[str, str] = field(default_factory=dict)  # the same, with ADDED_DEPENDENCY, relocked
    uv: Path | None = None  # the uv binary that locks for the uv peers, when one is measured
    uv_lock_checks: dict[str, str] = field(default_factory=dict)
    run_env: tuple[str, ...] = ()  # VARIABLE=value settings its image runs with for the first 200

    @property
    def pyproject(self) -> str:
        return self.locked[PYPROJECT]

    @property
    def lock(self) -> str:
        return self.locked[POETRY_LOCK]

    @property
    def distribution(self) -> str:
        """Its distribution's name ([project] name), installed in its image."""
        return tomllib.loads(self.pyproject)["project"]["name"]


def bake_project(
    output_dir: Path, python_version: str, base_image: str, candidate: Path | None, **answers: str
) -> Project:
    """The default project (with these answers too), locked, and the baselines' Dockerfiles written beside it."""
    chosen = "".join(f", {name}={value}" for name, value in answers.items())
    log(f"baking the default project (Python {python_version}{chosen}, locked against {PACKAGE_INDEX_URL})")
    baked = template_harness.bake(
        output_dir,
        python_version=python_version,
        docker_base_image=base_image,
        package_index_url=PACKAGE_INDEX_URL,
        lock_dependencies="yes",
        **answers,
    )
    if baked.returncode != 0:
        raise BenchError(f"bake failed:\n{baked.output[-3000:]}")
    path = baked.project
    package = next(path.glob("src/*/__init__.py")).parent.name
    dockerfiles = {"generated": path / "Dockerfile", "generated-no-bytecode": path / "Dockerfile"}
    if candidate:
        dockerfiles["generated"] = dockerfiles["generated-no-bytecode"] = path / "bench-candidate.Dockerfile"
        dockerfiles["generated"].write_text(candidate.read_text(encoding="utf-8"), encoding="utf-8")
    ignore = (path / ".dockerignore").read_text(encoding="utf-8")
    for variant in VARIANTS:
        if variant.dockerfile:
            text = (BASELINES_DIR / variant.dockerfile).read_text(encoding="utf-8").replace("__PACKAGE__", package)
            if variant.bytecode and variant.name.startswith("recipe"):
                text = with_compiled_bytecode(text)
            # In the build context, where only the naive `COPY . .` copies them; no run changes them.
            dockerfiles[variant.name] = path / f"bench-{variant.name}.Dockerfile"
            dockerfiles[variant.name].write_text(text, encoding="utf-8")
            if variant.uv_lock:
                ignore_file = path / f"bench-{variant.name}.Dockerfile.dockerignore"
                ignore_file.write_text(with_uv_context(ignore), encoding="utf-8")
    return Project(path, package, dockerfiles, read_locked_files(path))


def read_locked_files(path: Path) -> dict[str, str]:
    names = [PYPROJECT, POETRY_LOCK, *DERIVED_FROM_LOCK, UV_LOCK]
    return {name: (path / name).read_text(encoding="utf-8") for name in names if (path / name).is_file()}


def with_uv_context(dockerignore: str) -> str:
    """The project's .dockerignore (an allowlist) letting in what the uv peers build from as well."""
    return dockerignore + "".join(f"!{name}\n" for name in UV_CONTEXT_FILES)


def with_compiled_bytecode(recipe: str) -> str:
    """The recipe whose dependency step also compiles the venv's bytecode, as the generated image has it."""
    step = f"RUN --mount=type=cache,target=$POETRY_CACHE_DIR {RECIPE_DEPENDENCY_STEP}\n"
    if recipe.count(step) != 1:
        raise BenchError(f"cannot find the recipe's dependency step: {step.strip()}")
    return recipe.replace(step, f"{step[:-1]} \\\n    && {COMPILE_COMMAND}\n")


def declares_bytecode_arg(dockerfile: str) -> bool:
    """Whether the Dockerfile takes the COMPILE_BYTECODE build argument (ARG COMPILE_BYTECODE or ...=default)."""
    return re.search(rf"(?m)^ARG {BYTECODE_ARG}(=|\s*$)", dockerfile) is not None


def grow_project(project: Project, profile: Profile) -> None:
    """Add the profile's dependencies and, for the realistic one, its routes; relock with the host's Poetry."""
    if not profile.dependencies:
        return
    log(f"growing the project: {len(profile.dependencies)} pinned dependencies and GET {profile.first_200_path}")
    package_dir = project.path / "src" / project.package
    shutil.copyfile(REALISTIC_MODULE, package_dir / REALISTIC_MODULE.name)
    app = package_dir / "app.py"
    app.write_text(include_notes_router(app.read_text(encoding="utf-8")), encoding="utf-8")
    (project.path / PYPROJECT).write_text(add_dependencies(project.pyproject, profile.dependencies), encoding="utf-8")
    poetry_lock(project.path, 600)
    project.locked = read_locked_files(project.path)


def poetry_lock(path: Path, timeout: float) -> None:
    """Relock with the host's Poetry, then write what the project derives from its lock, as `poe lock` does."""
    env = tool_env(POETRY_VIRTUALENVS_CREATE="false")
    run(["poetry", "lock"], cwd=path, env=env, timeout=timeout)
    for script in DERIVED_FROM_LOCK.values():
        if (path / script[0]).is_file():
            run([sys.executable, *script], cwd=path, env=env, timeout=timeout)


def include_notes_router(app: str) -> str:
    """app.py with the realistic profile's router included in the app it creates."""
    if not re.search(r"(?m)^app = create_app\(", app):
        raise BenchError("cannot find `app = create_app(...)` in app.py")
    module = REALISTIC_MODULE.stem
    return (
        f"{app}\n# The benchmark's realistic profile (benchmarks/realistic/{module}.py).\n"
        f"from .{module} import router  # noqa: E402\n\napp.include_router(router)\n"
    )


def locked_packages(lock: str, group: str = "main") -> list[str]:
    """The names of the packages poetry.lock installs for a group."""
    return [package["name"] for package in tomllib.loads(lock).get("package", []) if group in package.get("groups", [])]


def locked_versions(lock: str, group: str = "main") -> dict[str, str]:
    """Name -> version of the packages poetry.lock installs for a group."""
    packages = tomllib.loads(lock).get("package", [])
    return {package["name"]: package["version"] for package in packages if group in package.get("groups", [])}


def uv_locked_versions(uv_lock: str) -> dict[str, str]:
    """Name -> version of what uv.lock installs, the project itself left out (uv records it by its path)."""
    packages = tomllib.loads(uv_lock).get("package", [])
    return {
        package["name"]: package["version"]
        for package in packages
        if not {"editable", "virtual", "directory"} & set(package.get("source", {}))
    }


def version_differences(poetry: dict[str, str], uv: dict[str, str]) -> list[str]:
    """Each package whose version differs between the two locks, or that only one of them has."""
    return [
        f"{name}: poetry.lock {poetry.get(name, 'absent')}, uv.lock {uv.get(name, 'absent')}"
        for name in sorted(poetry.keys() | uv.keys())
        if poetry.get(name) != uv.get(name)
    ]


def add_dependencies(pyproject: str, requirements: tuple[str, ...]) -> str:
    """pyproject.toml text with the requirements appended to [project] dependencies."""
    lines = "".join(f'    "{requirement}",\n' for requirement in requirements)
    new, count = re.subn(r"(?m)^(dependencies = \[\n(?:    .*\n)*?)(\])", lambda m: m[1] + lines + m[2], pyproject)
    if count != 1:
        raise BenchError("cannot find the [project] dependencies list in pyproject.toml")
    return new


def install_uv(directory: Path) -> Path:
    """The template's pinned uv (cookiecutter.json's _uv_version), installed with pip into a folder of the run's."""
    log(f"installing uv {UV_VERSION} for the uv peers' locks")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(directory), f"uv=={UV_VERSION}"]
    run(command, timeout=300)
    return directory / "bin" / "uv"


def uv_lock(project: Project) -> str:
    """Lock the project with uv to exactly the main packages poetry.lock pins; fail naming any version that differs.

    Each of poetry.lock's main packages is given to `uv lock` as `--upgrade-package NAME==VERSION` (uv's way
    to ask one version of a package without writing a constraint into pyproject.toml, which `uv sync --locked`
    would then compare with), then both locks are read back and compared, package by package.
    """
    pins = locked_versions((project.path / POETRY_LOCK).read_text(encoding="utf-8"))
    command = [str(project.uv), "lock", "--no-python-downloads", "--default-index", PACKAGE_INDEX_URL]
    command += [part for name, version in pins.items() for part in ("--upgrade-package", f"{name}=={version}")]
    run(command, cwd=project.path, timeout=UV_LOCK_TIMEOUT)
    text = (project.path / UV_LOCK).read_text(encoding="utf-8")
    differences = version_differences(pins, uv_locked_versions(text))
    if differences:
        raise BenchError("uv.lock does not pin poetry.lock's versions:\n" + "\n".join(differences))
    return text


def lock_with_uv(project: Project) -> None:
    """uv.lock for the project as it is and for the dependency change, each matching its poetry.lock."""
    log("locking with uv to poetry.lock's versions (the uv peers)")
    project.locked[UV_LOCK] = uv_lock(project)
    project.uv_lock_checks["project"] = f"{len(locked_versions(project.lock))} main packages, same versions"
    try:
        write_files(project.path, project.changed)
        project.changed[UV_LOCK] = uv_lock(project)
        project.uv_lock_checks["dependency change"] = (
            f"{len(locked_versions(project.changed[POETRY_LOCK]))} main packages, same versions"
        )
    finally:
        restore_project(project)


def prepare_dependency_change(project: Project) -> None:
    """Relock once with one more dependency (host Poetry), keep both files' texts, restore the originals."""
    log(f"relocking with {ADDED_DEPENDENCY} added (host Poetry, no virtualenv)")
    try:
        (project.path / PYPROJECT).write_text(
            add_dependencies(project.pyproject, (ADDED_DEPENDENCY,)), encoding="utf-8"
        )
        poetry_lock(project.path, 300)
        project.changed = read_locked_files(project.path)
    finally:
        restore_project(project)


def write_files(path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")


def restore_project(project: Project) -> None:
    write_files(project.path, project.locked)


def edit_code(project: Project, token: str) -> tuple[Path, str]:
    """Change one line of app.py (its docstring) to something no earlier run built; return the original."""
    app = project.path / "src" / project.package / "app.py"
    original = app.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    lines[0] = f'"""The HTTP application (benchmark edit {token})."""\n'
    app.write_text("".join(lines), encoding="utf-8")
    return app, original


def change_dependencies(project: Project, token: str) -> None:
    """The relocked files; a TOML comment makes the bytes new each run, so no earlier layer matches."""
    pyproject = project.changed[PYPROJECT] + f"\n# benchmark dependency change {token}\n"
    write_files(project.path, {**project.changed, PYPROJECT: pyproject})
