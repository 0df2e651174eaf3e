"""deploy/: the Kubernetes manifests validated offline against the published schemas, their
properties checked against the server's own configuration, and the Dockerfile checked against
the Makefile (no Docker engine or cluster needed)."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from server import __version__
from server.app import SERVICE_NAMES
from server.config import GatewayConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
COMPONENT = K8S / "components" / "service-account-key"
# The oldest minor still offered by the big managed services, and a current one.
K8S_VERSIONS = ("1.31", "1.35")
# The metrics port's default (config `metrics.port`, env VG_METRICS_PORT).
METRICS_PORT = 9464

Doc = dict[str, Any]


# --- reading the manifests -------------------------------------------------------------------


def _yaml_docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@cache
def _kustomization() -> Doc:
    doc: Doc = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return doc


def _resources() -> list[Doc]:
    return [d for name in _kustomization()["resources"] for d in _yaml_docs(K8S / name)]


def _generated_configmaps() -> list[Doc]:
    """The ConfigMaps kustomize generates, built as it builds them (before the hash suffix)."""
    out = []
    for gen in _kustomization().get("configMapGenerator", []):
        data = {Path(f).name: (K8S / f).read_text() for f in gen["files"]}
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": gen["name"]},
                "data": data,
            }
        )
    return out


def _one(kind: str) -> Doc:
    found = [d for d in _resources() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _container(deployment: Doc) -> Doc:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Doc = containers[0]
    return container


def _env(container: Doc) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _port(container: Doc, name: str) -> int:
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert name in ports, f"container has no port named {name}"
    return int(ports[name])


def _pod_labels() -> dict[str, str]:
    labels: dict[str, str] = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    return labels


def _config_path_in_repo(deployment: Doc) -> Path:
    """The repository file behind the container's VG_CONFIG_FILE (through the ConfigMap)."""
    container = _container(deployment)
    target = Path(_env(container)["VG_CONFIG_FILE"])
    mounts = {m["name"]: Path(m["mountPath"]) for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    for name, mount in mounts.items():
        if target.parent == mount and "configMap" in volumes[name]:
            for cm in _generated_configmaps():
                if cm["metadata"]["name"] == volumes[name]["configMap"]["name"]:
                    assert target.name in cm["data"], f"ConfigMap has no key {target.name}"
                    return K8S / target.name
    raise AssertionError(f"VG_CONFIG_FILE {target} is not in a mounted, generated ConfigMap")


def _deployed_config(deployment: Doc | None = None) -> GatewayConfig:
    """The configuration a pod loads: the ConfigMap's file plus the container's environment."""
    deployment = deployment or _one("Deployment")
    env = _env(_container(deployment))
    env["VG_CONFIG_FILE"] = str(_config_path_in_repo(deployment))
    return load_config(env=env)


def _quantity(text: str | int) -> float:
    """A Kubernetes quantity (cpu cores or bytes) as a number."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    assert match and match.group(2) in ("", *units), f"unexpected quantity {text!r}"
    return float(match.group(1)) * units.get(match.group(2), 1)


def _apply_json_patch(doc: Doc, ops: list[Doc]) -> Doc:
    """RFC 6902 `add` and `replace` (what the component uses), on a copy."""
    out = copy.deepcopy(doc)
    for op in ops:
        assert op["op"] in ("add", "replace"), f"unsupported op {op['op']}"
        *parents, last = op["path"].lstrip("/").split("/")
        node: Any = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            if last == "-":
                node.append(op["value"])
            elif op["op"] == "add":
                node.insert(int(last), op["value"])
            else:
                node[int(last)] = op["value"]
        else:
            assert op["op"] == "add" or last in node, f"nothing to replace at {op['path']}"
            node[last] = op["value"]
    return out


def _with_component(deployment: Doc) -> Doc:
    component = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    for patch in component["patches"]:
        target = patch["target"]
        if (
            target["kind"] == deployment["kind"]
            and target["name"] == deployment["metadata"]["name"]
        ):
            deployment = _apply_json_patch(deployment, yaml.safe_load(patch["patch"]))
    return deployment


# --- the manifests -----------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_and_nothing_else() -> None:
    listed = set(_kustomization()["resources"])
    generated = {f for g in _kustomization()["configMapGenerator"] for f in g["files"]}
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed | generated == on_disk
    assert not listed & generated
    # Namespace-less manifests: the kustomization sets it for all.
    assert _kustomization()["namespace"]
    assert all("namespace" not in d["metadata"] for d in _resources())


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_validates_against_the_kubernetes_schema(version: str) -> None:
    objects = [*_resources(), *_generated_configmaps(), _with_component(_one("Deployment"))]
    kinds = {d["kind"] for d in objects}
    expected = {"Deployment", "Service", "ServiceAccount", "ConfigMap"}
    assert expected | {"PodDisruptionBudget", "HorizontalPodAutoscaler"} <= kinds
    for doc in objects:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest() -> None:
    broken = copy.deepcopy(_one("Deployment"))
    _container(broken)["livenessProbe"]["grpc"]["port"] = "grpc"  # GRPCAction takes a number
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)
    unknown = copy.deepcopy(_one("Service"))
    unknown["spec"]["ports"][0]["appProtocoll"] = "grpc"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, K8S_VERSIONS[-1], strict=True)


def test_the_deployed_config_loads_and_never_falls_back_to_the_emulator() -> None:
    config = _deployed_config()
    assert config.emulator == "off" and not config.wants_emulator()
    assert config.vertex.project
    # One process per pod: pods scale, and each serves one metrics endpoint.
    assert config.server.workers == 1


def test_pod_runs_as_non_root_with_a_locked_down_container() -> None:
    deployment = _one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    pod_sc = pod["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] != 0
    assert pod_sc["runAsUser"] == _dockerfile().user_uid()
    assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault"
    sc = _container(deployment)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    # Python's tempfile (and the embedded emulator, if switched on) needs a writable /tmp.
    mounts = {m["mountPath"]: m["name"] for m in _container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_probes_are_native_grpc_health_checks_on_the_grpc_port() -> None:
    container = _container(_one("Deployment"))
    grpc_port = _port(container, "grpc")
    listen_port = int(_deployed_config().server.listen.rsplit(":", 1)[1])
    assert grpc_port == listen_port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        action = container[probe]
        assert set(action) & {"grpc", "httpGet", "tcpSocket", "exec"} == {"grpc"}, probe
        assert action["grpc"]["port"] == grpc_port, probe
        # Names the server registers with its health service ("" is the whole server).
        assert action["grpc"]["service"] in ("", *SERVICE_NAMES), probe


def test_termination_grace_outlasts_the_servers_drain_and_grace() -> None:
    server = _deployed_config().server
    grace = _one("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > server.shutdown_drain_seconds + server.shutdown_grace_seconds


def _idle_rss_mb() -> float:
    match = re.search(r"idle RSS per worker \| ([0-9.]+) MB", (ROOT / "README.md").read_text())
    assert match, "README's Performance table no longer reports the idle RSS per worker"
    return float(match.group(1))


def test_resources_cover_the_measured_memory_with_headroom() -> None:
    resources = _container(_one("Deployment"))["resources"]
    for key in ("cpu", "memory"):
        request, limit = resources["requests"][key], resources["limits"][key]
        assert _quantity(limit) >= _quantity(request) > 0, key
    workers = _deployed_config().server.workers
    idle = workers * _idle_rss_mb() * 1e6
    assert _quantity(resources["requests"]["memory"]) >= 2 * idle
    # Room above the request for one media-sized message each way.
    max_message = _deployed_config().server.max_message_bytes
    assert _quantity(resources["limits"]["memory"]) >= idle + 2 * max_message


def test_service_speaks_grpc_and_exposes_metrics_on_their_own_port() -> None:
    service, deployment = _one("Service"), _one("Deployment")
    container = _container(deployment)
    assert service["spec"]["selector"].items() <= _pod_labels().items()
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert ports["grpc"]["appProtocol"] == "grpc"
    assert ports["grpc"]["targetPort"] == "grpc"
    assert ports["metrics"]["targetPort"] == "metrics"
    assert ports["grpc"]["port"] != ports["metrics"]["port"]
    metrics = _port(container, "metrics")
    assert metrics == int(_env(container)["VG_METRICS_PORT"]) == METRICS_PORT
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == metrics
    assert annotations["prometheus.io/path"] == "/metrics"


def test_pdb_and_hpa_govern_the_deployments_pods() -> None:
    deployment, pdb, hpa = (
        _one("Deployment"),
        _one("PodDisruptionBudget"),
        _one("HorizontalPodAutoscaler"),
    )
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= _pod_labels().items()
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        deployment["kind"],
        deployment["metadata"]["name"],
    )
    assert hpa["apiVersion"] == "autoscaling/v2"
    resource_metrics = [m["resource"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
    assert [m["name"] for m in resource_metrics] == ["cpu"]
    # CPU utilisation is measured against the request, so there must be one.
    assert "cpu" in _container(deployment)["resources"]["requests"]
    # The HPA owns the replica count; a drain never takes every pod.
    assert "replicas" not in deployment["spec"]
    assert 1 <= pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]


def test_service_account_is_used_and_annotated_for_workload_identity() -> None:
    account, pod = _one("ServiceAccount"), _one("Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    gsa = account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9-]+\.iam\.gserviceaccount\.com", gsa)


def test_the_key_component_points_the_credentials_at_the_mounted_secret() -> None:
    base = _one("Deployment")
    volumes = {v["name"]: v for v in base["spec"]["template"]["spec"]["volumes"]}
    secret_mounts = [m for m in _container(base)["volumeMounts"] if "secret" in volumes[m["name"]]]
    assert len(secret_mounts) == 1 and secret_mounts[0]["readOnly"] is True
    # Optional, so the Workload Identity path runs without the Secret.
    assert volumes[secret_mounts[0]["name"]]["secret"]["optional"] is True
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in _env(_container(base))
    assert _deployed_config().vertex.credentials.file is None

    patched = _with_component(base)
    key = Path(_env(_container(patched))["GOOGLE_APPLICATION_CREDENTIALS"])
    assert key.parent == Path(secret_mounts[0]["mountPath"])
    assert _deployed_config(patched).vertex.credentials.file == str(key)


def _kubectl() -> str | None:
    venv = Path(sys.executable).parent / "kubectl"
    return str(venv) if venv.is_file() else shutil.which("kubectl")


def _kustomize(kubectl: str, directory: Path) -> list[Doc]:
    out = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_kustomize_renders_the_base_and_the_key_overlay(tmp_path: Path) -> None:
    kubectl = _kubectl()
    if kubectl is None:
        pytest.skip("kubectl (which carries kustomize) is not installed")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(  # kustomize takes only relative roots
            {
                "resources": [os.path.relpath(K8S, overlay)],
                "components": [os.path.relpath(COMPONENT, overlay)],
            }
        )
    )
    namespace = _kustomization()["namespace"]
    for directory, with_key in ((K8S, False), (overlay, True)):
        rendered = _kustomize(kubectl, directory)
        assert len(rendered) == len(_resources()) + len(_generated_configmaps())
        for doc in rendered:
            assert doc["metadata"]["namespace"] == namespace
            kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)
        deployment = next(d for d in rendered if d["kind"] == "Deployment")
        configmap = next(d for d in rendered if d["kind"] == "ConfigMap")
        # The hashed ConfigMap name reaches the volume that mounts it.
        assert configmap["metadata"]["name"].startswith("vertex-gateway-config-")
        names = {
            v.get("configMap", {}).get("name")
            for v in deployment["spec"]["template"]["spec"]["volumes"]
        }
        assert configmap["metadata"]["name"] in names
        assert _container(deployment)["image"].endswith(f":{__version__}")
        assert ("GOOGLE_APPLICATION_CREDENTIALS" in _env(_container(deployment))) is with_key


def test_image_tag_is_the_server_version() -> None:
    (image,) = _kustomization()["images"]
    assert image["name"] == _container(_one("Deployment"))["image"]
    assert image["newTag"] == __version__


# --- the Dockerfile against the Makefile ------------------------------------------------------


@dataclass
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str
    flags: dict[str, str] = field(default_factory=dict)


@dataclass
class Dockerfile:
    """The instructions, grouped by build stage (index 0: the ARGs before the first FROM)."""

    stages: list[list[Instruction]]

    def final(self) -> list[Instruction]:
        return self.stages[-1]

    def all(self) -> Iterator[Instruction]:
        for stage in self.stages:
            yield from stage

    def env(self, stage: list[Instruction]) -> dict[str, str]:
        out: dict[str, str] = {}
        for ins in stage:
            if ins.keyword == "ENV":
                for part in shlex.split(ins.args):
                    key, _, value = part.partition("=")
                    out[key] = value
        return out

    def user_uid(self) -> int:
        users = [i.args for i in self.final() if i.keyword == "USER"]
        assert users, "the final stage sets no USER"
        uid = users[-1].split(":")[0]
        assert uid.isdigit(), "USER must be numeric for Kubernetes' runAsNonRoot check"
        return int(uid)


@cache
def _dockerfile() -> Dockerfile:
    lines: list[str] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[list[Instruction]] = [[]]
    for line in lines:
        keyword, _, rest = line.strip().partition(" ")
        flags: dict[str, str] = {}
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
        ins = Instruction(keyword.upper(), rest.strip(), flags)
        if ins.keyword == "FROM":
            stages.append([])
        stages[-1].append(ins)
    return Dockerfile(stages)


@cache
def _makefile() -> list[str]:
    return (ROOT / "Makefile").read_text().splitlines()


def _recipe(target: str) -> list[str]:
    lines = _makefile()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    out = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        out.append(line.strip())
    return out


def _pip_install(tokens: list[str]) -> list[str] | None:
    """The arguments after `pip install`, if the command is one."""
    for i, token in enumerate(tokens[:-1]):
        if Path(token).name in ("pip", "pip3", "$(PIP)") and tokens[i + 1] == "install":
            return tokens[i + 2 :]
    return None


def _requirement_files(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-r", "--requirement")]


def test_dockerfile_installs_from_the_makefiles_runtime_lock_file() -> None:
    (make_args,) = [
        a for a in map(_pip_install, map(shlex.split, _recipe("$(STAMPS)/runtime"))) if a
    ]
    docker = _dockerfile()
    runs = [_pip_install(shlex.split(i.args)) for i in docker.all() if i.keyword == "RUN"]
    installs = [a for a in runs if a is not None]
    assert len(installs) == 1, "exactly one pip install, from the lock file"
    (docker_args,) = installs
    assert _requirement_files(docker_args) == _requirement_files(make_args) == ["requirements.lock"]
    assert set(make_args) <= set(docker_args)
    assert "--require-hashes" in docker_args
    # Nothing installed unpinned: no package names or URLs beside the lock file.
    positional = [a for a in docker_args if not a.startswith("-")]
    assert positional == _requirement_files(docker_args)
    copied = [
        i.args.split()[0] for i in docker.all() if i.keyword == "COPY" and "from" not in i.flags
    ]
    assert "requirements.lock" in copied


def _venv_bin(stage: list[Instruction]) -> str:
    (venv,) = [
        m.group(1)
        for i in stage
        if i.keyword == "RUN" and (m := re.search(r"python3? -m venv (\S+)", i.args))
    ]
    return f"{venv}/bin"


def test_dockerfile_runs_the_module_make_serve_runs_from_the_locked_environment() -> None:
    (serve,) = _recipe("serve")
    make_argv = [t for t in shlex.split(serve) if t != "$(ARGS)"]
    assert make_argv[0] == "$(PY)"
    docker = _dockerfile()
    final = docker.final()
    argv: list[str] = []
    for keyword in ("ENTRYPOINT", "CMD"):
        found = [i.args for i in final if i.keyword == keyword]
        if found:
            argv += json.loads(found[-1])  # exec form: the server is PID 1 and gets SIGTERM
    assert argv[0] == "python" and argv[1:] == make_argv[1:] == ["-m", "server"]
    # `python` is the interpreter of the environment the lock file was installed into.
    build = next(
        s for s in docker.stages if any(i.keyword == "RUN" and "pip install" in i.args for i in s)
    )
    venv_bin = _venv_bin(build)
    for stage in (build, final):
        assert docker.env(stage)["PATH"].split(":")[0] == venv_bin
    venv = venv_bin.removesuffix("/bin")
    assert any(
        i.keyword == "COPY" and i.flags.get("from") and i.args.split() == [venv, venv]
        for i in final
    )


def test_dockerfile_pythonpath_matches_the_makefile() -> None:
    (export,) = [line for line in _makefile() if re.match(r"export PYTHONPATH\s*:?=", line)]
    template = export.split("=", 1)[1].strip()
    final = _dockerfile().final()
    workdir = [i.args for i in final if i.keyword == "WORKDIR"][-1]
    assert _dockerfile().env(final)["PYTHONPATH"] == template.replace("$(CURDIR)", workdir)


def _dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        regex = (
            re.escape(glob)
            .replace(r"\*\*/", "(.*/)?")
            .replace(r"\*", "[^/]*")
            .replace(r"\?", "[^/]")
        )
        if any(re.fullmatch(regex, c) for c in candidates):
            excluded = not negate
    return excluded


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        src
        for i in _dockerfile().all()
        if i.keyword == "COPY" and "from" not in i.flags
        for src in i.args.split()[:-1]
    ]
    assert {"requirements.lock", "server/", "emulator/"} <= set(sources)
    assert any(s.startswith("clients/python") for s in sources)  # the generated stubs
    for src in sources:
        path = ROOT / src
        assert path.exists(), f"COPY {src}: no such path in the repository"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            rel = file.relative_to(ROOT).as_posix()
            if "__pycache__" not in rel:
                assert not _dockerignore_excludes(rel, patterns), (
                    f"{rel} is left out of the context"
                )
    # Nothing else: the checkout's environments, tests and history stay out.
    for other in (
        ".venv/bin/python",
        "tests/conftest.py",
        ".git/HEAD",
        "node_modules/x",
        "bench/perf",
    ):
        assert _dockerignore_excludes(other, patterns), other


def test_dockerfile_is_slim_python_311_not_root_with_both_ports_and_sigterm() -> None:
    docker = _dockerfile()
    args = {
        k: v for i in docker.stages[0] if i.keyword == "ARG" for k, _, v in [i.args.partition("=")]
    }
    bases = [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], i.args.split()[0])
        for i in docker.all()
        if i.keyword == "FROM"
    ]
    assert len(bases) >= 2
    requires = re.search(r'requires-python = "(.*)"', (ROOT / "pyproject.toml").read_text())
    assert requires
    for base in bases:
        match = re.fullmatch(r"python:(3\.\d+)-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base)
        assert match, f"{base} is not an official slim Python image"
        assert SpecifierSet(requires.group(1)).contains(f"{match.group(1)}.0"), base
    assert docker.user_uid() != 0
    exposed = {
        int(p.split("/")[0])
        for i in docker.final()
        if i.keyword == "EXPOSE"
        for p in i.args.split()
    }
    listen = int(load_config(env={}).server.listen.rsplit(":", 1)[1])
    assert exposed == {listen, METRICS_PORT}
    assert [i.args for i in docker.final() if i.keyword == "STOPSIGNAL"] == ["SIGTERM"]
