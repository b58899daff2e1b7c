"""The Ray Serve configs and the KubeRay manifest: valid, consistent, pointing at the app."""

import copy
import importlib

import pytest
import yaml
from ray.serve import Application
from ray.serve.schema import ServeDeploySchema

from app import serve_ray
from tests.deploy.conftest import dockerfile_env, read_yaml, setting_env_names

CPU = read_yaml("deploy/ray/serve.yaml")
GPU = read_yaml("deploy/ray/serve-gpu.yaml")
RAYSERVICE = read_yaml("deploy/kuberay/rayservice.yaml")


def only_app(config: dict) -> dict:
    (application,) = config["applications"]
    return application


def only_deployment(config: dict) -> dict:
    (deployment,) = only_app(config)["deployments"]
    return deployment


@pytest.mark.parametrize("config", [CPU, GPU], ids=["cpu", "gpu"])
def test_config_is_a_valid_serve_deploy_config(config):
    ServeDeploySchema.model_validate(config)


@pytest.mark.parametrize("config", [CPU, GPU], ids=["cpu", "gpu"])
def test_config_points_at_the_deployment(config):
    application = only_app(config)
    module_name, attribute = application["import_path"].split(":")
    assert getattr(importlib.import_module(module_name), attribute) is serve_ray.build
    assert only_deployment(config)["name"] == serve_ray.GradcamDeployment.name
    assert application["route_prefix"] == "/"  # the app's own paths, unchanged


@pytest.mark.parametrize("config", [CPU, GPU], ids=["cpu", "gpu"])
def test_replicas_get_settings_the_app_knows_and_the_images_models(config):
    env_vars = only_app(config)["runtime_env"]["env_vars"]
    assert set(env_vars) <= setting_env_names()
    assert env_vars["GRADCAM_MODELS_DIR"] == dockerfile_env()["GRADCAM_MODELS_DIR"]


def test_scaling_bounds_and_resources_per_replica():
    deployment = only_deployment(CPU)
    scaling = deployment["autoscaling_config"]
    assert 1 <= scaling["min_replicas"] <= scaling["initial_replicas"] <= scaling["max_replicas"]
    assert deployment["max_ongoing_requests"] >= scaling["target_ongoing_requests"]
    assert deployment["ray_actor_options"]["num_cpus"] > 0
    assert deployment["graceful_shutdown_timeout_s"] >= 25  # the app's drain (shutdown_grace)


def test_gpu_variant_differs_only_in_a_gpu_fraction_and_the_device():
    cpu, gpu = copy.deepcopy(CPU), copy.deepcopy(GPU)
    num_gpus = only_deployment(gpu)["ray_actor_options"].pop("num_gpus")
    assert 0 < num_gpus <= 1
    assert only_app(gpu)["runtime_env"]["env_vars"].pop("GRADCAM_DEVICE") == "/GPU:0"
    assert only_app(cpu)["runtime_env"]["env_vars"].pop("GRADCAM_DEVICE") == "/CPU:0"
    assert gpu == cpu


def test_kuberay_serves_the_same_applications():
    serve_config = yaml.safe_load(RAYSERVICE["spec"]["serveConfigV2"])
    assert serve_config["applications"] == read_yaml("deploy/ray/serve.yaml")["applications"]


def test_kuberay_pods_run_the_ray_image_as_non_root():
    cluster = RAYSERVICE["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"]["template"]] + [
        group["template"] for group in cluster["workerGroupSpecs"]
    ]
    for pod in pods:
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["spec"]["containers"]
        assert container["image"] == "gradcam-server:ray"  # `--build-arg EXTRAS=ray`


def test_build_binds_the_deployment():
    assert isinstance(serve_ray.build({}), Application)
    with pytest.raises(ValueError, match="GRADCAM_"):
        serve_ray.build({"models_dir": "elsewhere"})
