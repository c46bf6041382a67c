"""The deployment files, checked offline (there is no Docker engine or cluster here).

- The Kubernetes manifests parse and validate against the Kubernetes API schemas
  (kubernetes-validate bundles them), and they agree with each other and with the app: probes
  ask a route the app serves, on the port the container listens on.
- The Dockerfile is multi-stage on a slim Python 3.11 image, runs as a non-root user, checks
  /health, installs only the pinned runtime, and its command starts a module that exists.
- The pinned runtime is complete, and the service really runs from it alone: a fresh venv is
  built the way the image is built and the image's own command and health check are run.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import kubernetes_validate
import pytest
import yaml
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tools.serve_pins import closure

DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.33.0"  # a release still in support; the schemas ship with kubernetes-validate


# ---------------------------------------------------------------- Kubernetes

def manifests() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict:
    (doc,) = [d for d in manifests() if d["kind"] == kind]
    return doc


def test_manifests_exist():
    assert {d["kind"] for d in manifests()} == {"Deployment", "Service", "HorizontalPodAutoscaler"}


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: d["kind"])
def test_manifest_validates_against_the_kubernetes_schema(doc):
    # strict: unknown fields (a typo such as `readinesProbe`) are errors too
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_catches_a_broken_manifest():
    broken = json.loads(json.dumps(by_kind("Deployment")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def container() -> dict:
    (c,) = by_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    return c


def app_get_routes() -> set[str]:
    from mlbook_utils.serving import create_app

    app = create_app(ROOT / "no-model-needed-until-start-up")
    return {r.path for r in app.routes if "GET" in getattr(r, "methods", set())}


def test_probes_ask_a_route_the_app_serves_on_the_container_port():
    c = container()
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    routes = app_get_routes()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] in routes, f"{probe} asks {get['path']}, the app serves {routes}"
        assert get["port"] in ports, f"{probe} port {get['port']} is not a container port"
    assert ports["http"] == dockerfile_port()
    assert c["livenessProbe"]["timeoutSeconds"] * c["livenessProbe"]["failureThreshold"] >= 3


def test_workers_match_the_cpu_request():
    """uvicorn's WEB_CONCURRENCY comes from the CPU request (whole cores, rounded up)."""
    env = {e["name"]: e for e in container()["env"]}
    ref = env["WEB_CONCURRENCY"]["valueFrom"]["resourceFieldRef"]
    assert ref == {"containerName": container()["name"], "resource": "requests.cpu", "divisor": "1"}
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["api"]
    cpus = float(compose["deploy"]["resources"]["limits"]["cpus"])
    assert int(compose["environment"]["WEB_CONCURRENCY"]) == max(1, int(cpus)), "a worker per CPU"
    assert image_env()["WEB_CONCURRENCY"] == "1"


def test_resources_security_and_wiring():
    deployment, service, hpa = by_kind("Deployment"), by_kind("Service"), by_kind("HorizontalPodAutoscaler")
    c = container()
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])  # the HPA needs a CPU request
    assert "memory" in c["resources"]["limits"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == dockerfile_uid()
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in {p["name"] for p in c["ports"]}
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


# ---------------------------------------------------------------- Dockerfile

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def exec_form(instruction: str) -> list[str]:
    (args,) = [a for k, a in final_stage() if k == instruction]
    if instruction == "HEALTHCHECK":
        args = args[args.index("CMD") + 3:].strip()
    return json.loads(args)


def dockerfile_port() -> int:
    cmd = exec_form("CMD")
    return int(cmd[cmd.index("--port") + 1])


def dockerfile_uid() -> int:
    (user,) = [a for k, a in final_stage() if k == "USER"]
    return int(user)


def image_env() -> dict[str, str]:
    env = {}
    for k, args in final_stage():
        if k == "ENV":
            env.update(dict(pair.split("=", 1) for pair in shlex.split(args)))
    return env


def test_dockerfile_is_multistage_slim_python_311():
    steps = dockerfile()
    (arg,) = [a for k, a in steps if k == "ARG"]
    froms = [a for k, a in steps if k == "FROM"]
    assert len(froms) >= 2, "multi-stage: build and runtime"
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11[\w.-]*-slim[\w.-]*", arg), arg
    assert all(f.startswith("${PYTHON_IMAGE}") for f in froms)
    assert any("--from=build" in a for k, a in final_stage() if k == "COPY")


def test_runs_as_a_non_root_user_with_a_health_check():
    assert dockerfile_uid() != 0
    check = exec_form("HEALTHCHECK")
    assert f"127.0.0.1:{dockerfile_port()}/health" in " ".join(check)
    assert "/health" in app_get_routes()
    assert [a for k, a in final_stage() if k == "EXPOSE"] == [str(dockerfile_port())]


def test_command_starts_a_module_that_exists():
    from mlbook_utils.serverrun import HTTP_PROTOCOL

    cmd = exec_form("CMD")
    assert cmd[0] == "uvicorn" and "--factory" in cmd
    assert cmd[cmd.index("--http") + 1] == HTTP_PROTOCOL, "the protocol with deadlines for slow clients"
    module, _, attr = HTTP_PROTOCOL.partition(":")
    assert isinstance(getattr(importlib.import_module(module), attr), type)
    module, _, attr = cmd[1].partition(":")
    factory = getattr(importlib.import_module(module), attr)
    assert callable(factory)
    assert image_env()["MLBOOK_MODEL_ROOT"] == "/models"
    assert any("export-model /models" in a for k, a in dockerfile() if k == "RUN")


def test_image_installs_only_pinned_requirements():
    installs = [a for k, a in dockerfile() if k == "RUN" and "pip install" in a]
    assert installs, "no pip install in the Dockerfile"
    for command in installs:
        for pip in command.split("&&"):
            assert "--no-deps" in pip, f"pip may pull unpinned dependencies: {pip}"
            target = pip.split()[-1]
            assert target in {"/tmp/requirements-serve.txt", "/src"} or re.fullmatch(r"[\w-]+==[\w.]+", target), pip
            if "==" in target:  # a pinned build tool: the version the book's venv has
                name, version = target.split("==")
                assert version_of(name) == version, f"{target}: the book tests {version_of(name)}"
    copies = [a.split() for k, a in dockerfile() if k == "COPY" and "--from" not in a]
    for *sources, _dest in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            assert dockerignore_keeps(source), f"COPY {source}: excluded by .dockerignore"


def version_of(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def dockerignore_keeps(path: str) -> bool:
    kept = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        if pattern == "*" or path == pattern or path.startswith(pattern + "/"):
            kept = negate
    return kept


def test_dockerignore_keeps_the_build_context_small():
    for path in (".venv", "_build", ".git", "book", "tests"):
        assert not dockerignore_keeps(path), f"{path} would be sent to the Docker daemon"


def serve_pins() -> dict[str, str]:
    pins = {}
    for line in (DEPLOY / "requirements-serve.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[\w.]+", version), f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = version
    return pins


def test_runtime_pins_are_complete_and_match_the_book():
    pins = serve_pins()
    assert pins == closure(), "deploy/requirements-serve.txt is stale: run `make serve-pins`"
    book = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            book[canonicalize_name(name)] = version.strip()
    for name, version in pins.items():
        if name in book:
            assert version == book[name], f"{name}: {version} here, {book[name]} in requirements.txt"
    for needed in ("fastapi", "uvicorn", "scikit-learn", "pandas", "skops", "onnxruntime", "skl2onnx"):
        assert needed in pins
    assert "matplotlib" not in pins and "torch" not in pins


def test_compose_builds_this_dockerfile_and_binds_loopback():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    api = compose["services"]["api"]
    assert (DEPLOY / api["build"]["context"] / api["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert all(p.startswith("127.0.0.1:") for p in api["ports"])
    assert api["read_only"] is True and api["cap_drop"] == ["ALL"]


# ---------------------------------------------------------------- the image's environment, built for real

def build_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    first_from = min(i for i, (k, _) in enumerate(steps) if k == "FROM")
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[first_from + 1:last_from]


@pytest.fixture(scope="module")
def image_build(tmp_path_factory):
    """Replay the build stage's RUN lines, with the image's paths mapped to a temporary folder.

    COPY is done by copying the same files; the build stage's ENV is applied except
    PIP_NO_CACHE_DIR (pip's cache spares the test a download of every wheel).
    """
    tmp = tmp_path_factory.mktemp("image")
    paths = {"/opt/venv": tmp / "venv", "/tmp/requirements-serve.txt": DEPLOY / "requirements-serve.txt",
             "/src": tmp / "src", "/models": tmp / "models"}
    (tmp / "src").mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp / "src" / name)
    shutil.copytree(ROOT / "mlbook_utils", tmp / "src" / "mlbook_utils",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PATH": f"{tmp / 'venv' / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp)}
    for keyword, args in build_stage():
        if keyword == "ENV" and not args.startswith("PATH="):
            env.update(dict(pair.split("=", 1) for pair in shlex.split(args)))
        elif keyword == "RUN":
            command = args
            for image_path, here in paths.items():
                command = command.replace(image_path, str(here))
            python = sys.executable if "-m venv" in command else "python"
            command = re.sub(r"^python ", f"{python} ", command)
            env.pop("PIP_NO_CACHE_DIR", None)
            done = subprocess.run(["sh", "-c", command], env=env, cwd=tmp, capture_output=True, text=True)
            assert done.returncode == 0, f"RUN {args}\n{done.stdout}\n{done.stderr}"
    return {"venv": tmp / "venv", "models": tmp / "models"}


def test_the_image_environment_serves_with_its_own_command(image_build, tmp_path):
    from mlbook_utils.serverrun import free_port

    venv, models = image_build["venv"], image_build["models"]
    python = str(venv / "bin" / "python")
    check = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
    # the one gap is deliberate: a server draws no figures, so the image leaves matplotlib out
    assert check.stdout.strip() == "mlbook-utils 0.1.0 requires matplotlib, which is not installed.", check.stdout
    assert subprocess.run([python, "-c", "import matplotlib"], capture_output=True).returncode != 0
    assert (models / "churn" / "v1" / "metadata.json").is_file(), "the build stage saved the model"
    assert (models / "churn" / "v1" / "model.onnx").is_file(), "and its ONNX graph"
    env = {**image_env(), "HOME": str(tmp_path), "MLBOOK_MODEL_ROOT": str(models),
           "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}  # the image's /opt/venv/bin
    port = free_port()
    cmd = exec_form("CMD")
    cmd[cmd.index("--port") + 1] = str(port)
    cmd[cmd.index("--host") + 1] = "127.0.0.1"  # 0.0.0.0 in the image; loopback here
    health = [a.replace(f":{dockerfile_port()}/", f":{port}/") for a in exec_form("HEALTHCHECK")]
    server = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(health, env=env, capture_output=True).returncode != 0:
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "no healthy answer in 60 s"
            time.sleep(0.5)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=20)
    assert "loaded churn v1 (engine onnx)" in out, out
    assert "Application shutdown complete" in out, out
