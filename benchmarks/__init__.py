"""Benchmark the generated Dockerfile against its peers and baselines, side by side in one run (`poe bench`).

Profiles (--profile demo, realistic or all), each one baked project:
  demo       the default fastapi project as baked (fastapi and uvicorn)
  realistic  the same project grown as a service grows: REALISTIC_DEPENDENCIES (an ORM, a PostgreSQL
             driver, migrations, settings, an HTTP client, JSON, logging, ...; about 60 locked main
             packages) and benchmarks/realistic/notes.py, whose GET /notes uses all of them
Variants, all built from the profile's project (same app, same poetry.lock, same base image, same Poetry):
  generated              the project's own Dockerfile, --build-arg COMPILE_BYTECODE=1
  generated-no-bytecode  the same with COMPILE_BYTECODE=0 (only when the Dockerfile declares that ARG)
  uv-multistage          benchmarks/baselines/uv-multistage.Dockerfile: astral's uv guide, multistage example
  s3rius                 benchmarks/baselines/s3rius.Dockerfile: s3rius/FastAPI-template's production stage
                         (both from a uv.lock the benchmark locks to poetry.lock's versions, bytecode compiled)
  naive                  benchmarks/baselines/naive.Dockerfile: single stage, COPY . ., poetry install
  recipe                 benchmarks/baselines/recipe.Dockerfile: the article's final recipe (pip install
                         poetry==X, --no-root dependency layer on a cache mount, runtime copying .venv)
  recipe-bytecode        the recipe with the dependencies compiled to the same timestamp bytecode as the
                         generated image's (compileall -j 0), for a like-for-like size comparison

Figures per variant (medians of --runs runs): cold build with the BuildKit cache mounts emptied first, cold
build again with them warm (the cold image removed and the layer cache pruned, as on a CI runner whose
cache mounts were restored), code-change rebuild (and whether the dependency layer stayed CACHED),
dependency-change rebuild (one package added and relocked), image bytes above the base, installer bytes
(pip, setuptools, wheel, uv) in the runtime venv, and seconds from `docker run` to the first 200 on the
profile's route. The two bytecode variants measure only the cold build, the bytes and the first 200.
Then issue 22's table (ours, the two uv peers and the recipe; the ratio to the best peer; its targets met or
not), ratios against each baseline, the older targets against the recipe, and the post-generation validation
levels timed on the default project (--no-validation skips them). --options also measures what the options
add to the default fastapi project: database=postgresql against none (the generated variant's figures), and
tracing off and on in one image (first 200, and the latency of a short bounded burst of GETs); --profile none
with --options measures only them. --docs measures nothing: it records a saved run (and --options-json, the
options of another) in docs/benchmark-run.json and rewrites docs/benchmark.md's generated block from it.

Needs a Docker engine with BuildKit (DOCKER_BUILDKIT=1 is set here), Poetry 2 on PATH and the package index.
Emptying the cache mounts runs `docker builder prune --filter type=exec.cachemount`, and emptying the layer
cache `--filter type=regular`: each empties every unused cache mount or layer on the engine, not only this
benchmark's.
Each build's image is tagged bench-<variant>:<token>-<phase> and all are removed at the end (--keep keeps
them); containers are always removed. --generated-dockerfile measures a candidate Dockerfile instead.

Modules: config (profiles, variants, figures, targets), stats (build logs, medians, latencies, ratios,
targets), commands (docker build, run, prune, and requests to a running image), project (bake, grow, lock
with Poetry and uv, edits), measure (the figures of each variant, profile and option), report (tables, the
recorded run, the docs block), cli (options, main).
"""
