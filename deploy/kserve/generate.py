"""Writes the two InferenceServices of this folder from the `kserve` SDK's models.

The YAML files are built as `V1beta1InferenceService` objects (so a field KServe does not
know fails here, not in a cluster) and serialised by the SDK's Kubernetes API client.
The `kserve` package's pins (protobuf<7, python-dateutil<3, pandas<3) do not fit the
project's venv, so the README's test command installs it without its dependencies
(`pip install --no-deps kserve==0.21.0`; the dev extra has what its import needs). In
the project's venv then:

    .venv/bin/python deploy/kserve/generate.py

`tests/deploy/test_kserve.py` reads the files, and rebuilds them with the SDK's models.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from kserve import (
    V1beta1ExplainerSpec,
    V1beta1InferenceService,
    V1beta1InferenceServiceSpec,
    V1beta1PredictorSpec,
    V1beta1TFServingSpec,
)
from kserve.api_client import ApiClient  # KServe's: camelCase keys, no nulls
from kubernetes.client import (
    V1Container,
    V1ContainerPort,
    V1EnvVar,
    V1HTTPGetAction,
    V1ObjectMeta,
    V1Probe,
    V1ResourceRequirements,
)

HERE = Path(__file__).resolve().parent
IMAGE = "gradcam-server:latest"
NAMESPACE = "models"
PORT = 8080
RESOURCES = V1ResourceRequirements(
    requests={"cpu": "1", "memory": "2Gi"}, limits={"cpu": "2", "memory": "4Gi"}
)


def explainer(
    name: str, arguments: list[str], env: list[V1EnvVar] | None = None
) -> V1beta1ExplainerSpec:
    """This service's container as the custom explainer (KServe routes :explain to it)."""
    ready = V1Probe(http_get=V1HTTPGetAction(path="/v2/health/ready", port=PORT), period_seconds=10)
    container = V1Container(
        name="kserve-container",
        image=IMAGE,
        args=["--model_name", name, *arguments, "--http_port", str(PORT)],
        env=env,
        ports=[V1ContainerPort(container_port=PORT, protocol="TCP")],
        readiness_probe=ready,
        resources=RESOURCES,
    )
    return V1beta1ExplainerSpec(containers=[container])


def service(
    name: str, predictor: V1beta1PredictorSpec, explain: V1beta1ExplainerSpec
) -> V1beta1InferenceService:
    return V1beta1InferenceService(
        api_version="serving.kserve.io/v1beta1",
        kind="InferenceService",
        metadata=V1ObjectMeta(name=name, namespace=NAMESPACE),
        spec=V1beta1InferenceServiceSpec(predictor=predictor, explainer=explain),
    )


def remote_explainer() -> V1beta1InferenceService:
    """TF Serving predicts; the explainer only calls its :predict (occlusion, RISE)."""
    name = "flowers"
    predictor = V1beta1PredictorSpec(
        tensorflow=V1beta1TFServingSpec(
            storage_uri=f"gs://example-models/{name}", resources=RESOURCES
        )
    )
    host = f"{name}-predictor.{NAMESPACE}"
    arguments = ["--predictor_host", host, "--image_size", "224,224", "--remote_input", "b64"]
    return service(name, predictor, explainer(name, arguments))


def storage_explainer() -> V1beta1InferenceService:
    """The explainer loads the same model files (STORAGE_URI: KServe's storage initializer
    copies them to /mnt/models): every method, gradient ones too."""
    name = "shapes"
    uri = f"gs://example-models/{name}"
    predictor = V1beta1PredictorSpec(
        tensorflow=V1beta1TFServingSpec(storage_uri=uri, resources=RESOURCES)
    )
    host = f"{name}-predictor.{NAMESPACE}"
    arguments = ["--predictor_host", host, "--storage_uri", "/mnt/models"]
    return service(
        name, predictor, explainer(name, arguments, [V1EnvVar(name="STORAGE_URI", value=uri)])
    )


FILES = {
    "inferenceservice-remote.yaml": remote_explainer,
    "inferenceservice-storage.yaml": storage_explainer,
}


def render(build: object) -> str:
    document = ApiClient().sanitize_for_serialization(build())  # type: ignore[operator]
    return yaml.safe_dump(document, sort_keys=False)


def main() -> None:
    for filename, build in FILES.items():
        (HERE / filename).write_text(render(build), encoding="utf-8")
        print(f"wrote deploy/kserve/{filename}")


if __name__ == "__main__":
    main()
