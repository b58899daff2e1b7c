"""Health (Open Inference Protocol style) and the model listing."""

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.api.conftest import MODELS_DIR


def test_live_and_ready(client):
    assert client.get("/v2/health/live").json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    assert client.get("/v2/models/shapes/ready").json() == {"name": "shapes", "ready": True}


def test_not_ready_before_the_lifespan_has_loaded_the_models():
    app = create_app(Settings(models_dir=MODELS_DIR, _env_file=None))
    cold = TestClient(app)  # no `with`: the lifespan has not run
    assert cold.get("/v2/health/live").status_code == 200
    response = cold.get("/v2/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_model_ready_is_404(client):
    response = client.get("/v2/models/nope/ready")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_list_models(client):
    models = {m["id"]: m for m in client.get("/v1/models").json()["models"]}
    bundled = {"shapes", "shapes_vit", "shapes_seg", "shapes_det", "keywords"}
    assert set(models) == bundled | {"efficientnet_lite0", "complaints"}
    assert models["shapes_seg"]["ready"] and models["shapes_det"]["ready"]
    assert models["shapes"] == {"id": "shapes", "version": "1", "task": "image", "ready": True}
    assert models["keywords"]["task"] == "text"


def test_model_detail_lists_labels_and_candidate_layers(client):
    detail = client.get("/v1/models/shapes").json()
    assert detail["labels"] == ["circle", "square", "triangle", "cross"]
    assert detail["n_classes"] == 4
    assert detail["input_shape"] == [None, 64, 64, 3]
    assert detail["device"] == "/CPU:0"
    names = [layer["name"] for layer in detail["candidate_layers"]]
    assert detail["default_layer"] in names
    assert all(len(layer["output_shape"]) == 4 for layer in detail["candidate_layers"])
    assert detail["card"]["image"]["size"] == [64, 64]
    assert not any(layer["token_grid"] for layer in detail["candidate_layers"])
    assert "gradcam" in detail["methods"] and "attention-rollout" not in detail["methods"]


def test_vit_detail_gives_token_grids_and_attention_methods(client):
    detail = client.get("/v1/models/shapes_vit").json()
    assert "token" not in str(detail["card"])  # the card says nothing about tokens
    layers = {layer["name"]: layer for layer in detail["candidate_layers"]}
    assert detail["default_layer"] == "b3_norm1"  # the last block's first norm
    assert layers["b3_norm1"]["output_shape"] == [None, 65, 64]
    assert layers["b3_norm1"]["token_grid"] == [8, 8]
    assert layers["b3_norm1"]["prefix_tokens"] == 1
    assert layers["patch_tokens"]["prefix_tokens"] == 0
    assert layers["patches"]["token_grid"] is None  # the stem's convolution
    assert "class_token" not in layers  # (B, 1, 64): no grid
    assert {"attention-rollout", "attention-gradcam", "scorecam"} <= set(detail["methods"])


def test_text_model_detail(client):
    detail = client.get("/v1/models/keywords").json()
    assert detail["labels"] == ["sports", "finance", "weather", "music"]
    assert detail["input_shape"] == [None, 48]
    assert all(len(layer["output_shape"]) == 3 for layer in detail["candidate_layers"])


def test_efficientnet_detail_names_its_layers(client):
    detail = client.get("/v1/models/efficientnet_lite0").json()
    assert detail["default_layer"] == "top_activation"
    assert detail["n_classes"] == 1000
    assert detail["labels"][285] == "Egyptian cat"
    layers = {layer["name"]: layer["output_shape"] for layer in detail["candidate_layers"]}
    assert layers["top_activation"] == [None, 7, 7, 1280]
    assert layers["block6d_activation"] == [None, 7, 7, 1152]
    assert layers["stem_activation"] == [None, 112, 112, 32]
