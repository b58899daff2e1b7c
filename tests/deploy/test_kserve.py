"""deploy/kserve/: the InferenceServices read back, and rebuilt with the `kserve` SDK's
models (the README's test command installs `kserve` without its dependencies: see the
dev extra in pyproject.toml). Outside CI a venv without it skips that check; in CI
(`CI` set) a missing SDK fails it."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from app.kserve import parser
from tests.deploy.conftest import ROOT, read_yaml

FILES = ("inferenceservice-remote.yaml", "inferenceservice-storage.yaml")


def explainer_args(document: dict) -> list[str]:
    (container,) = document["spec"]["explainer"]["containers"]
    return [str(arg) for arg in container["args"]]


@pytest.mark.parametrize("filename", FILES)
def test_a_tf_serving_predictor_and_this_service_as_its_explainer(filename: str) -> None:
    document = read_yaml(f"deploy/kserve/{filename}")
    assert document["apiVersion"] == "serving.kserve.io/v1beta1"
    assert document["kind"] == "InferenceService"
    name = document["metadata"]["name"]
    assert document["spec"]["predictor"]["tensorflow"]["storageUri"]
    (container,) = document["spec"]["explainer"]["containers"]
    assert container["image"].startswith("gradcam-server")
    options = parser().parse_args(explainer_args(document))  # the arguments the app takes
    assert options.model_name == name
    assert options.predictor_host == f"{name}-predictor.{document['metadata']['namespace']}"
    assert container["ports"][0]["containerPort"] == options.http_port
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_the_storage_one_loads_the_model_files() -> None:
    document = read_yaml("deploy/kserve/inferenceservice-storage.yaml")
    options = parser().parse_args(explainer_args(document))
    assert options.storage_uri == "/mnt/models"  # where KServe's storage initializer copies
    (container,) = document["spec"]["explainer"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["STORAGE_URI"] == document["spec"]["predictor"]["tensorflow"]["storageUri"]


NO_SDK = importlib.util.find_spec("kserve") is None and not os.environ.get("CI")


@pytest.mark.skipif(NO_SDK, reason="kserve not installed: pip install --no-deps kserve==0.21.0")
@pytest.mark.parametrize("filename", FILES)
def test_the_files_are_what_the_sdk_models_build(filename: str) -> None:
    sys.path.insert(0, str(ROOT / "deploy" / "kserve"))
    try:
        import generate  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    assert (ROOT / "deploy" / "kserve" / filename).read_text() == generate.render(
        generate.FILES[filename]
    )
