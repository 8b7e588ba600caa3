"""The compose fleet, checked as a file (Docker may not run where the tests do): three
replicas behind the load balancer, with Postgres, Redis and Prometheus, every reference
resolving to something that exists, and the services' settings ones the service reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from benefitgate.config import Settings
from benefitgate.offline.keys import KeyRing
from benefitgate.selfserve.models import Policy
from tests.fixtures.deploy import known_variable

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def test_three_replicas_behind_a_load_balancer_with_postgres_redis_and_prometheus() -> None:
    assert set(SERVICES) == {"postgres", "redis", "migrate", "benefitgate", "lb", "prometheus"}
    assert SERVICES["benefitgate"]["deploy"]["replicas"] == 3
    assert "ports" not in SERVICES["benefitgate"]  # reached through the balancer only
    assert SERVICES["lb"]["ports"] == ["8080:8080"]
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert re.search(r"server benefitgate:8000 resolve", nginx)
    assert "proxy_set_header Upgrade $http_upgrade" in nginx  # WebSockets pass


def test_every_dependency_names_a_service_with_a_condition_it_can_meet() -> None:
    for name, service in SERVICES.items():
        for target, how in service.get("depends_on", {}).items():
            assert target in SERVICES, (name, target)
            assert how["condition"] in CONDITIONS, (name, target)
            if how["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[target], (name, target)
    # Migrations run once, before any replica serves.
    assert SERVICES["migrate"]["command"] == ["benefitgate", "migrate"]
    migrate = SERVICES["benefitgate"]["depends_on"]["migrate"]["condition"]
    assert migrate == "service_completed_successfully"


def test_replicas_reach_postgres_and_redis_by_service_name_with_known_settings() -> None:
    env = SERVICES["benefitgate"]["environment"]
    assert env == SERVICES["migrate"]["environment"]  # one anchor for both
    assert re.match(r"postgresql://[^@]+@postgres:5432/", env["DATABASE_URL"])
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert all(known_variable(name) for name in env), sorted(
        n for n in env if not known_variable(n)
    )
    # Enough Postgres connections for every replica's workers (pool, listener, scheduler).
    command = SERVICES["postgres"]["command"]
    max_connections = int(command[command.index("-c") + 1].split("=")[1])
    per_replica = int(env["BENEFITGATE_WORKERS"]) * (int(env["BENEFITGATE_POOL_MAX"]) + 2)
    assert 3 * per_replica + 1 <= max_connections


def test_every_replica_signs_snapshots_with_the_one_configured_key() -> None:
    env = SERVICES["benefitgate"]["environment"]
    assert KeyRing.of(env["BENEFITGATE_SNAPSHOT_KEY"]).kid  # a key the service can load


def test_every_replica_reads_one_self_serve_policy_the_service_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = SERVICES["benefitgate"]["environment"]
    assert "BENEFITGATE_SELF_SERVE" in env  # shown to whoever edits the fleet's settings
    monkeypatch.setenv("BENEFITGATE_SELF_SERVE", env["BENEFITGATE_SELF_SERVE"])
    assert Policy.of(Settings.from_env()).switches == frozenset()  # the default: off


def test_prometheus_scrapes_each_replica_on_its_metrics_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    [discovery] = job["dns_sd_configs"]
    assert discovery["names"] == ["benefitgate"] and discovery["type"] == "A"
    env = SERVICES["benefitgate"]["environment"]
    assert str(discovery["port"]) == env["BENEFITGATE_METRICS_PORT"]
    assert env["BENEFITGATE_METRICS_PORT"] in SERVICES["benefitgate"]["expose"]


def test_mounted_files_exist_and_the_image_is_built_from_this_repository() -> None:
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), source
            else:
                assert source in COMPOSE["volumes"], source
    build = SERVICES["benefitgate"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "exec benefitgate serve" in dockerfile  # the server, not sh, gets SIGTERM
