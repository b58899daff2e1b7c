"""deploy/tfserving/compose.yml: TF Serving and this service read one model base path
(parsed and checked here; no Docker engine runs it)."""

import re

from tests.deploy.conftest import ROOT, read_yaml, setting_env_names

COMPOSE = read_yaml("deploy/tfserving/compose.yml")
SERVICES = COMPOSE["services"]


def mount(service: dict) -> tuple[str, str]:
    host, target, mode = SERVICES[service]["volumes"][0].rsplit(":", 2)
    assert mode == "ro"  # neither server writes to the models
    return host, target


def test_both_services_mount_the_same_base_path():
    assert mount("tfserving")[0] == mount("gradcam")[0] == "${MODEL_BASE:-./models}"


def test_gradcam_reads_its_mount_and_polls_like_tf_serving():
    environment = SERVICES["gradcam"]["environment"]
    assert set(environment) <= setting_env_names()
    assert environment["GRADCAM_MODELS_DIR"] == mount("gradcam")[1]
    flags = dict(arg.lstrip("-").split("=", 1) for arg in SERVICES["tfserving"]["command"])
    assert environment["GRADCAM_POLL_SECONDS"] == flags["file_system_poll_wait_seconds"]


def test_tf_serving_model_paths_lie_under_its_mount():
    flags = dict(arg.lstrip("-").split("=", 1) for arg in SERVICES["tfserving"]["command"])
    target = mount("tfserving")[1]
    assert flags["model_config_file"] == f"{target}/models.config"
    config = (ROOT / "deploy" / "tfserving" / "models.config").read_text()
    base_paths = re.findall(r'base_path: "([^"]+)"', config)
    assert base_paths and all(path.startswith(target + "/") for path in base_paths)
