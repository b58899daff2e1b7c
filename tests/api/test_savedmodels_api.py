"""SavedModel folders served through the API: pixels, encoded JPEGs and token ids.

One models folder written in the test: a plain tf.Module CNN taking float pixels, the
same CNN behind a signature that decodes JPEG bytes in its graph, a Keras 3 text export,
and a graph that reads a file, trusted by its card.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from fastapi.testclient import TestClient
from PIL import Image

from app.engine.methods import BLACKBOX_METHODS, CAM_METHOD_NAMES, PIXEL_METHODS
from app.main import create_app
from app.settings import Settings
from tests import savedmodels as sm
from tests.api.conftest import b64, decode_data_url, encode

IMAGE_CARD = 'task = "image"\nmodel_file = "sm"\n[image]\nsize = [16, 16]\nscaling = "unit"\n'
JPEG_CARD = 'task = "image"\nmodel_file = "sm"\n'  # the graph decodes: no [image] needed
TEXT_CARD = (
    'task = "text"\nmodel_file = "sm"\n[text]\nvocab_file = "vocab.txt"\nsequence_length = 12\n'
)
VOCAB = ["<pad>", "<oov>", *[f"w{i}" for i in range(2, 20)]]


def add(root: Path, model_id: str, card: str) -> Path:
    folder = root / model_id
    folder.mkdir()
    sm.write_card(folder, model_id, card)
    return folder / "sm"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("models")
    plain = sm.PlainCnn()
    sm.save_module(plain, add(root, "plain", IMAGE_CARD), plain.serve)
    jpeg = sm.JpegCnn()
    sm.save_module(jpeg, add(root, "jpegs", JPEG_CARD), jpeg.serve_bytes)
    text = sm.small_text_model()
    sm.export_keras3(text, add(root, "words", TEXT_CARD))
    (root / "words" / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    reads = sm.ReadsFiles(str(root / "words" / "vocab.txt"))
    sm.save_module(reads, add(root, "trusted", IMAGE_CARD + "\n"), reads.serve)
    card = root / "trusted" / "model.toml"
    card.write_text(card.read_text().replace("[image]", "trust_graph = true\n[image]"))
    # TF Serving's layout: numeric version folders that are SavedModels, a card naming none.
    served = root / "served"
    served.mkdir()
    sm.write_card(served, "served", IMAGE_CARD.replace('model_file = "sm"\n', ""))
    for version, seed in (("1", 5), ("2", 6)):
        module = sm.PlainCnn(seed=seed)
        sm.save_module(module, served / version, module.serve)
    # TF Serving's folders as they are, no card: a graph decoding JPEGs serves; one taking
    # float pixels cannot (the service would not know the preprocessing).
    for model_id, module, serve in (
        ("cardless", jpeg, jpeg.serve_bytes),
        ("cardless_pixels", plain, plain.serve),
    ):
        sm.save_module(module, root / model_id / "1", serve)
    return {"root": root, "plain": plain, "jpeg": jpeg, "text": text}


@pytest.fixture(scope="module")
def client(models) -> Iterator[TestClient]:
    app = create_app(Settings(models_dir=models["root"], _env_file=None))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def explain(client, model_id, instances, **parameters):
    url = f"/v1/models/{model_id}:explain"
    return client.post(url, json={"instances": instances, "parameters": parameters})


def pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)


def test_model_detail_lists_layers_and_how_the_savedmodel_is_driven(client):
    detail = client.get("/v1/models/plain").json()
    assert detail["input_shape"] == [None, 16, 16, 3]
    assert [layer["name"] for layer in detail["candidate_layers"]] == ["features", "Relu"]
    assert detail["default_layer"] == "Relu"
    info = detail["saved_model"]
    assert info["signature"] == "serving_default" and info["input"] == "image"
    assert info["logit_tensor"].endswith("MatMul:0")  # the Softmax's input
    assert info["trust_graph"] is False and detail["card"]["trust_graph"] is False
    trusted = client.get("/v1/models/trusted").json()
    assert trusted["saved_model"]["trust_graph"] is True
    assert client.get("/v1/models/jpegs").json()["saved_model"]["input"] == "encoded_image"


def test_float_pixels_several_samples_and_targets(client, models):
    images = [pixels(1), pixels(2)]
    instances = [{"image": {"b64": b64(encode(Image.fromarray(p)))}} for p in images]
    response = explain(client, "plain", instances, targets=[0, 2])
    assert response.status_code == 200, response.text
    body = response.json()
    scaled = np.stack(images).astype(np.float32) / 255.0
    expected = models["plain"].serve(scaled)["probabilities"].numpy()
    np.testing.assert_allclose(body["predictions"], expected, atol=1e-6)
    for target_index, target in enumerate((0, 2)):
        direct = sm.direct_gradcam(models["plain"], scaled, target)
        for sample in range(2):
            got = body["explanations"][sample]["targets"][target_index]
            assert got["target"] == target
            heatmap = np.asarray(got["heatmap"]) * got["scale"]
            np.testing.assert_allclose(heatmap, direct[sample], atol=1e-5)
            assert decode_data_url(got["overlay"]).size == (16, 16)


def test_every_method_through_the_batcher(client):
    instance = {"image": {"b64": b64(encode(Image.fromarray(pixels(3))))}}
    for method in CAM_METHOD_NAMES:
        response = explain(client, "plain", [instance], method=method, metrics=["deletion"])
        assert response.status_code == 200, (method, response.text)
        target = response.json()["explanations"][0]["targets"][0]
        assert np.asarray(target["heatmap"]).shape == (14, 14)
        assert 0.0 <= target["metrics"]["deletion"] <= 1.0
    # A frozen graph also takes the pixel-level methods but FullGrad (a Keras replay of
    # its biases), and the black-box ones.
    pixel = [name for name in PIXEL_METHODS if name != "fullgrad"]
    expected = [*CAM_METHOD_NAMES, *pixel, *BLACKBOX_METHODS]
    assert client.get("/v1/models/plain").json()["methods"] == expected
    refused = explain(client, "plain", [instance], method="attention-rollout")
    assert refused.status_code == 422 and "frozen graph" in refused.json()["detail"]


def test_jpeg_bytes_go_in_as_they_are_and_the_overlay_is_the_decoded_image(client, models):
    data = sm.jpeg_bytes(5, side=40)
    response = client.post(
        "/v1/models/jpegs:explain", content=data, headers={"content-type": "image/jpeg"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    decoded = sm.decode(tf.constant([data])).numpy()  # the graph's own decode and resize
    expected = models["jpeg"].serve_bytes(tf.constant([data]))["probabilities"].numpy()
    np.testing.assert_allclose(body["predictions"], expected, atol=1e-6)
    target = body["explanations"][0]["targets"][0]
    direct = sm.direct_gradcam(models["jpeg"], decoded, target["target"])[0]
    np.testing.assert_allclose(np.asarray(target["heatmap"]) * target["scale"], direct, atol=1e-5)
    assert decode_data_url(target["overlay"]).size == (16, 16)  # drawn on the decoded image
    with_metrics = explain(
        client, "jpegs", [{"image": {"b64": b64(data)}}], metrics=["deletion", "drop"]
    )
    assert with_metrics.status_code == 200, with_metrics.text


def test_an_image_the_graph_cannot_decode_is_a_4xx(client):
    webp = encode(Image.fromarray(pixels(4)), "WEBP")  # decode_jpeg gives 4-D: map_fn fails
    response = client.post(
        "/v1/models/jpegs:explain", content=webp, headers={"content-type": "image/webp"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_token_ids_model_gives_spans(client, models):
    response = explain(client, "words", [{"text": "w3 w5 w7 w19"}, {"text": "w2 w2"}])
    assert response.status_code == 200, response.text
    body = response.json()
    ids = np.zeros((2, 12), np.int32)
    ids[0, :4], ids[1, :2] = [3, 5, 7, 19], [2, 2]
    expected = models["text"].predict(ids, verbose=0)
    np.testing.assert_allclose(body["predictions"], expected, atol=1e-6)
    assert body["layer"] == "conv"
    assert body["explanations"][0]["tokens"] == ["w3", "w5", "w7", "w19"]
    assert body["explanations"][0]["targets"][0]["weighted_spans"]["spans"]


def test_version_folders_that_are_savedmodels_serve_the_highest(client, models):
    detail = client.get("/v1/models/served").json()
    assert detail["model_version"] == "2" and detail["saved_model"]["input"] == "image"
    batch = pixels(3)[None].astype(np.float32) / 255
    response = client.post("/v1/models/served:predict", json={"instances": batch.tolist()})
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == "2"
    version_2 = sm.PlainCnn(seed=6)
    expected = tf.nn.softmax(version_2.logits(version_2.features(tf.constant(batch))))
    np.testing.assert_allclose(response.json()["predictions"], expected.numpy(), atol=1e-5)


def test_predict_takes_the_signature_input_key_and_b64_for_encoded_images(client, models):
    batch = pixels(4)[None].astype(np.float32) / 255
    # The signature's argument is `images`: TF Serving's named row format uses that key.
    named = client.post(
        "/v1/models/plain:predict", json={"instances": [{"images": batch[0].tolist()}]}
    )
    assert named.status_code == 200, named.text
    plain = client.post("/v1/models/plain:predict", json={"instances": batch.tolist()})
    assert named.json()["predictions"] == plain.json()["predictions"]
    jpeg = sm.jpeg_bytes(7)
    encoded = client.post("/v1/models/jpegs:predict", json={"instances": [{"b64": b64(jpeg)}]})
    assert encoded.status_code == 200, encoded.text
    explained = explain(client, "jpegs", [{"image": {"b64": b64(jpeg)}}], overlay=False).json()
    np.testing.assert_allclose(encoded.json()["predictions"], explained["predictions"], atol=1e-5)
    tensors = client.post("/v1/models/jpegs:predict", json={"instances": [[1, 2, 3]]})
    assert tensors.status_code == 400
    assert tensors.json()["type"] == "/problems/invalid-predict-request"


def test_tf_serving_folders_without_a_card_serve_graphs_that_decode(client, models):
    jpeg = sm.jpeg_bytes(8)
    response = explain(client, "cardless", [{"image": {"b64": b64(jpeg)}}], overlay=False)
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == "1"
    carded = explain(client, "jpegs", [{"image": {"b64": b64(jpeg)}}], overlay=False)
    assert response.json()["predictions"] == carded.json()["predictions"]  # the same graph
    refused = client.get("/v1/models/cardless_pixels")
    assert refused.status_code == 503
    assert "[image] section" in refused.json()["detail"]
    assert "float32" in refused.json()["detail"]
