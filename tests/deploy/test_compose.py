"""docker-compose.yml, .env.example, HAProxy and Prometheus agree with the app and image."""

import re

import pytest
from pydantic import ValidationError

from app.settings import Settings
from tests.deploy.conftest import (
    ROOT,
    dockerfile_env,
    dockerfile_instructions,
    read_yaml,
    setting_env_names,
)

COMPOSE = read_yaml("docker-compose.yml")
SERVICES = COMPOSE["services"]
APP_SERVICES = ("gradcam", "replica")  # the single service and the scaled one
ENV_LINE = re.compile(r"^#?\s*(GRADCAM_[A-Z0-9_]+)=(.*)$")


def env_example() -> dict[str, str]:
    """Every `GRADCAM_X=value` of .env.example, commented out or not."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {m[1]: m[2] for m in map(ENV_LINE.match, lines) if m}


def container_port(service: dict) -> int:
    return int(service["environment"]["GRADCAM_PORT"])


def duration_s(text: str) -> float:
    units = {"s": 1, "m": 60}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([sm])", text))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_environment_names_are_settings(name):
    assert set(SERVICES[name]["environment"]) <= setting_env_names()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_runs_the_image_layout(name):
    service = SERVICES[name]
    environment = service["environment"]
    image_env = dockerfile_env()
    assert environment["GRADCAM_HOST"] == "0.0.0.0"
    for setting in ("GRADCAM_PORT", "GRADCAM_MODELS_DIR"):
        assert environment[setting] == image_env[setting]
    assert service["build"]["context"] == "."
    assert service["env_file"] == [{"path": ".env", "required": False}]
    assert service["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_models_volume_mounts_over_the_models_dir(name):
    service = SERVICES[name]
    volume = re.fullmatch(r"\$\{MODELS_DIR:-([^}]+)\}:([^:]+):ro", service["volumes"][0])
    assert volume, service["volumes"][0]
    default_source, target = volume.groups()
    assert target == service["environment"]["GRADCAM_MODELS_DIR"]
    assert any((ROOT / default_source).glob("*/model.toml"))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_healthcheck_is_the_images(name):
    test = SERVICES[name]["healthcheck"]["test"]
    healthcheck = next(a for k, a in dockerfile_instructions() if k == "HEALTHCHECK")
    assert test[0] == "CMD"
    assert f'CMD ["{test[1]}", "{test[2]}"]' in healthcheck


@pytest.mark.parametrize("name", APP_SERVICES)
def test_docker_waits_for_the_drain_before_killing(name):
    grace = Settings.model_fields["shutdown_grace"].default
    assert duration_s(SERVICES[name]["stop_grace_period"]) > grace + 2  # + uvicorn's close


def test_single_service_publishes_its_port():
    service = SERVICES["gradcam"]
    published, port = service["ports"][0].rsplit(":", 1)
    assert int(port) == container_port(service)
    assert published == "${PUBLISHED_PORT:-8000}"
    assert service["profiles"] == ["single"]


def test_scaled_profile_runs_replicas_a_balancer_and_prometheus():
    assert {n for n, s in SERVICES.items() if "scaled" in s.get("profiles", [])} == {
        "replica",
        "lb",
        "prometheus",
    }
    assert "ports" not in SERVICES["replica"]  # reached through the balancer only
    assert SERVICES["replica"]["deploy"]["replicas"] == "${REPLICAS:-3}"


def test_env_example_names_every_setting_and_only_settings():
    names = set(env_example())
    assert names <= setting_env_names(), names - setting_env_names()
    missing = setting_env_names() - names
    assert not missing, f"document {sorted(missing)} in .env.example"


def test_env_example_values_are_valid():
    values = {name.removeprefix("GRADCAM_").lower(): v for name, v in env_example().items()}
    try:
        Settings(_env_file=None, **values)
    except ValidationError as exc:
        # A file path must exist where the service runs, not here.
        errors = [e for e in exc.errors() if e["type"] != "path_not_file"]
        assert not errors, errors


def test_balancer_checks_readiness_and_targets_the_replicas(app_paths):
    config = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    lb = SERVICES["lb"]
    check_path = re.search(r"option httpchk GET (\S+)", config)[1]
    assert check_path == "/v2/health/ready" and check_path in app_paths
    assert re.search(r"http-check expect status 200", config)
    server = re.search(r"server-template \S+ \d+ (\S+):(\d+) ", config)
    assert server[1] == "replica" and int(server[2]) == container_port(SERVICES["replica"])
    bind_port = re.search(r"bind :(\d+)", config)[1]
    assert lb["ports"] == [f"${{LB_PORT:-8080}}:{bind_port}"]
    assert lb["volumes"][0].split(":")[:2] == [
        "./deploy/haproxy/haproxy.cfg",
        "/usr/local/etc/haproxy/haproxy.cfg",
    ]


def test_prometheus_scrapes_every_replicas_metrics(app_paths):
    config = read_yaml("deploy/prometheus/prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["replica"] and discovery["type"] == "A"
    assert discovery["port"] == container_port(SERVICES["replica"])
    assert SERVICES["prometheus"]["volumes"][0].split(":")[:2] == [
        "./deploy/prometheus/prometheus.yml",
        "/etc/prometheus/prometheus.yml",
    ]
    if "/metrics" not in app_paths:
        pytest.skip("the app has no GET /metrics route yet")
    assert "/metrics" in app_paths


def test_gpu_override_switches_the_image_of_the_app_services():
    override = read_yaml("deploy/compose.gpu.yml")["services"]
    assert set(override) == set(APP_SERVICES)
    assert any(k == "ARG" and a == "VARIANT=cpu" for k, a in dockerfile_instructions())
    for service in override.values():
        assert service["build"]["args"]["VARIANT"] == "gpu"
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device["capabilities"] == ["gpu"]
