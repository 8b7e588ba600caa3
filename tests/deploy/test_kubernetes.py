"""The Kubernetes manifests: rendered as kustomize renders them (compared with
`kubectl kustomize` where kubectl is installed), every resource valid against the
Kubernetes schemas (kubernetes-validate, offline, strict: an unknown field fails), and
wired together: selectors match, probes reach the health endpoints, ports and settings
exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.fixtures.deploy import known_variable
from tests.fixtures.kustomize import Resource, render

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
BASE, EXAMPLE = KUBERNETES / "base", KUBERNETES / "overlays" / "example"
VERSION = "1.33"  # the oldest Kubernetes release still supported upstream, late 2026


def by_kind(resources: list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def one(resources: list[Resource], kind: str) -> Resource:
    [resource] = by_kind(resources, kind)
    return resource


def pod_spec(resource: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.fixture(scope="module", params=["base", "example"])
def rendered(request: pytest.FixtureRequest) -> list[Resource]:
    return render(BASE if request.param == "base" else EXAMPLE)


def test_every_rendered_resource_is_valid_against_the_kubernetes_schemas(
    rendered: list[Resource],
) -> None:
    assert {r["kind"] for r in rendered} >= {
        "ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
        "HorizontalPodAutoscaler", "Job",
    }  # fmt: skip
    for resource in rendered:
        kubernetes_validate.validate(resource, VERSION, strict=True)


def test_a_misspelt_field_would_be_caught() -> None:
    """The validation is strict: the same check fails on a field Kubernetes ignores."""
    deployment = one(render(BASE), "Deployment")
    pod_spec(deployment)["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("folder", [BASE, EXAMPLE], ids=["base", "example"])
def test_the_python_rendering_is_what_kubectl_kustomize_renders(folder: Path) -> None:
    out = subprocess.run(  # noqa: S603 (kubectl, on the project's own files)
        ["kubectl", "kustomize", str(folder)],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    theirs = [doc for doc in yaml.safe_load_all(out) if doc]

    def key(r: Resource) -> str:
        return f"{r['kind']}/{r['metadata']['name']}"

    assert sorted(render(folder), key=key) == sorted(theirs, key=key)


def test_the_deployment_probes_the_health_endpoints_and_bounds_its_resources(
    rendered: list[Resource],
) -> None:
    [container] = pod_spec(one(rendered, "Deployment"))["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"  # checks the database
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"  # never the database
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    assert container["resources"]["requests"]["cpu"]
    assert container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_selectors_ports_and_the_autoscaler_target_agree(rendered: list[Resource]) -> None:
    deployment = one(rendered, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert matches(deployment["spec"]["selector"]["matchLabels"], pod_labels)
    assert matches(one(rendered, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                   pod_labels)  # fmt: skip
    service = one(rendered, "Service")
    assert matches(service["spec"]["selector"], pod_labels)
    [container] = pod_spec(deployment)["containers"]
    port_names = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert "metrics" not in {p["targetPort"] for p in service["spec"]["ports"]}
    target = one(rendered, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    hpa = one(rendered, "HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] >= 2  # the disruption budget leaves one serving


def test_settings_exist_and_metrics_are_scraped_where_they_are_served(
    rendered: list[Resource],
) -> None:
    config = one(rendered, "ConfigMap")["data"]
    assert all(known_variable(name) for name in config), sorted(
        name for name in config if not known_variable(name)
    )
    deployment = one(rendered, "Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    [container] = pod_spec(deployment)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert annotations["prometheus.io/port"] == config["BENEFITGATE_METRICS_PORT"]
    assert int(config["BENEFITGATE_METRICS_PORT"]) == ports["metrics"]
    assert int(config["BENEFITGATE_PORT"]) == ports["http"]
    # The workers' metrics folder and the data folder are on a writable, per-pod volume.
    mounts = [m["mountPath"] for m in container["volumeMounts"]]
    for folder in (config["PROMETHEUS_MULTIPROC_DIR"], config["BENEFITGATE_DATA_DIR"]):
        assert any(folder.startswith(m + "/") for m in mounts), folder
    for source in container["envFrom"]:
        if "configMapRef" in source:
            assert source["configMapRef"]["name"] == one(rendered, "ConfigMap")["metadata"]["name"]


def test_the_migration_job_runs_the_image_of_the_deployment_with_its_settings(
    rendered: list[Resource],
) -> None:
    job = one(rendered, "Job")
    [migrate] = pod_spec(job)["containers"]
    [serve] = pod_spec(one(rendered, "Deployment"))["containers"]
    assert migrate["command"] == ["benefitgate", "migrate"]
    assert migrate["image"] == serve["image"]
    assert migrate["envFrom"] == serve["envFrom"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_the_example_overlay_sets_namespace_image_secret_and_tracing() -> None:
    resources = render(EXAMPLE)
    namespace = one(resources, "Namespace")["metadata"]["name"]
    assert all(
        r["metadata"].get("namespace") == namespace for r in resources if r["kind"] != "Namespace"
    )
    [serve] = pod_spec(one(resources, "Deployment"))["containers"]
    assert serve["image"] == "registry.example.com/benefitgate:0.1.0"
    config = one(resources, "ConfigMap")["data"]
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http")
    assert config["BENEFITGATE_POOL_MAX"] == "10"  # the patch merged, not replaced
    secret = one(resources, "Secret")
    template = yaml.safe_load((KUBERNETES / "secret.template.yaml").read_text())
    assert secret["metadata"]["name"] == template["metadata"]["name"]
    assert set(secret["stringData"]) == set(template["stringData"])
    assert all(known_variable(name) for name in template["stringData"])


def test_the_secret_template_and_the_service_monitor_are_valid() -> None:
    template = yaml.safe_load((KUBERNETES / "secret.template.yaml").read_text())
    kubernetes_validate.validate(template, VERSION, strict=True)
    service, monitor = [
        d for d in yaml.safe_load_all((KUBERNETES / "servicemonitor.yaml").read_text()) if d
    ]
    kubernetes_validate.validate(service, VERSION, strict=True)
    # The Prometheus Operator's CRD is not among the Kubernetes schemas: its shape by hand.
    assert (monitor["apiVersion"], monitor["kind"]) == (
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
    )
    assert matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {
        p["name"] for p in service["spec"]["ports"]
    }
    deployment = one(render(BASE), "Deployment")
    assert matches(
        service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]
    )
