"""Bring your own model: Keras 2 HDF5 files and a Tokenizer JSON, served and explained.

One models folder, written in the test: a Keras 2.2.4 text CNN with its tf_keras Tokenizer,
and a tf-keras 2.21 image CNN. Predictions through the API equal the oracles' own.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tf_keras
from fastapi.testclient import TestClient
from PIL import Image
from tf_keras.preprocessing.text import Tokenizer

from app.errors import ModelError
from app.main import create_app
from app.registry.registry import load_registry
from app.settings import Settings
from tests.api.conftest import encode
from tests.registry.formats.keras2_files import (
    keras224_text_cnn,
    save_with_tf_keras,
    write_keras224_h5,
)
from tests.registry.formats.test_keras2 import (
    DIM,
    FILTERS,
    LENGTH,
    VOCAB,
    WIDTH,
    numpy_text_cnn,
    randomize,
    text_cnn_weights,
    tf_keras_image_cnn,
)

CORPUS = ["the match ended with a late goal", "the election vote was close", "a new phone"]
TEXT_CARD = """
id = "reviews"
task = "text"
model_file = "model.h5"
labels_file = "labels.txt"

[text]
tokenizer_file = "tokenizer.json"
sequence_length = {length}
padding = "pre"
"""
IMAGE_CARD = """
id = "photos"
task = "image"
model_file = "model.h5"
labels_file = "labels.txt"

[image]
size = [16, 16]
scaling = "unit"
"""


def write_folder(root: Path, card: str, labels: str) -> Path:
    folder = root / card.split('"')[1]
    folder.mkdir(parents=True)
    (folder / "model.toml").write_text(card)
    (folder / "labels.txt").write_text(labels)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("models")
    text = write_folder(root, TEXT_CARD.format(length=LENGTH), "sports\npolitics\ntech\n")
    weights = text_cnn_weights(seed=11)
    write_keras224_h5(
        text / "model.h5", keras224_text_cnn(LENGTH, VOCAB, DIM, FILTERS, WIDTH), weights
    )
    tokenizer = Tokenizer(oov_token="<OOV>")
    tokenizer.fit_on_texts(CORPUS)
    (text / "tokenizer.json").write_text(tokenizer.to_json())
    image = write_folder(root, IMAGE_CARD, "circle\nsquare\ntriangle\n")
    image_model = tf_keras_image_cnn()
    randomize(image_model, seed=12)
    save_with_tf_keras(image_model, image / "model.h5")
    return {"root": root, "weights": weights, "tokenizer": tokenizer, "image": image_model}


@pytest.fixture(scope="module")
def client(models) -> Iterator[TestClient]:
    app = create_app(Settings(models_dir=models["root"], _env_file=None))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def explain(client, model_id, instances, **parameters):
    url = f"/v1/models/{model_id}:explain"
    return client.post(url, json={"instances": instances, "parameters": parameters})


def keras_ids(tokenizer, text: str) -> np.ndarray:
    """Keras 2's own preprocessing: texts_to_sequences, then pad_sequences (pre)."""
    sequences = tokenizer.texts_to_sequences([text])
    return tf_keras.utils.pad_sequences(sequences, maxlen=LENGTH, padding="pre")


SENTENCE = "The LATE goal, in the match!"


def test_text_is_read_by_the_tokenizer_and_predicted_as_keras_2_would(client, models):
    response = explain(client, "reviews", [{"text": SENTENCE}])
    assert response.status_code == 200, response.text
    body = response.json()
    expected = numpy_text_cnn(keras_ids(models["tokenizer"], SENTENCE), models["weights"])
    np.testing.assert_allclose(body["predictions"], expected, rtol=1e-4, atol=1e-6)
    explanation = body["explanations"][0]
    # "in" is not in the corpus: the OOV id, so its token stays, lined up with its id.
    assert explanation["tokens"] == ["the", "late", "goal", "in", "the", "match"]
    assert len(explanation["targets"][0]["heatmap"]) == 6


def test_ids_alone_give_the_same_answer_with_tokens_from_the_vocabulary(client, models):
    ids = models["tokenizer"].texts_to_sequences([SENTENCE])[0]
    by_text = explain(client, "reviews", [{"text": SENTENCE}]).json()
    by_ids = explain(client, "reviews", [{"ids": ids}])
    assert by_ids.status_code == 200, by_ids.text
    body = by_ids.json()
    assert body["predictions"] == by_text["predictions"]
    assert body["explanations"][0]["tokens"] == ["the", "late", "goal", "<OOV>", "the", "match"]
    heatmaps = [e["targets"][0]["heatmap"] for e in (body, by_text) for e in e["explanations"]]
    np.testing.assert_allclose(heatmaps[0], heatmaps[1], atol=1e-6)


def test_ids_in_a_multipart_field(client, models):
    ids = models["tokenizer"].texts_to_sequences([SENTENCE])[0]
    by_json = explain(client, "reviews", [{"ids": ids}]).json()
    for field in (",".join(map(str, ids)), str(ids)):
        response = client.post("/v1/models/reviews:explain", files={"ids": (None, field)})
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == by_json["predictions"]


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        ({"ids": [2, 999]}, "999 at position 1"),
        ({"ids": [-1]}, "-1 at position 0"),
        ({"ids": [2], "text": "goal"}, "exactly one of image, tensor, text, tokens or ids"),
    ],
)
def test_bad_ids_are_422(client, instance, message):
    response = explain(client, "reviews", [instance])
    assert response.status_code == 422
    assert message in response.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ids": (None, "2,x")}, "ids must be comma-separated integers"),
        ({"ids": (None, "")}, "ids must be comma-separated integers"),
        ({"ids": (None, "2,999")}, "999 at position 1"),
        ({"ids": (None, "2"), "text": (None, "goal")}, "`text` or `ids`, not both"),
    ],
)
def test_bad_multipart_ids_are_422(client, fields, message):
    response = client.post("/v1/models/reviews:explain", files=fields)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_keras_2_image_model_explained_through_the_api(client, models):
    pixels = np.random.default_rng(13).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    response = client.post(
        "/v1/models/photos:explain",
        content=encode(Image.fromarray(pixels)),
        headers={"content-type": "image/png"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expected = models["image"].predict(pixels[None].astype(np.float32) / 255.0, verbose=0)
    np.testing.assert_allclose(body["predictions"], expected, rtol=1e-4, atol=1e-6)
    assert body["layer"] == "last_conv"  # the automatic choice: the last 4-D output
    assert len(body["explanations"][0]["targets"][0]["heatmap"]) == 6  # last_conv is 6x6
    detail = client.get("/v1/models/photos").json()
    assert {"conv_a", "bn_a", "last_conv"} <= {
        layer["name"] for layer in detail["candidate_layers"]
    }


def test_a_lambda_model_stops_start_up_with_a_clear_message(tmp_path):
    folder = write_folder(tmp_path, IMAGE_CARD, "a\nb\n")
    inputs = tf_keras.Input((16, 16, 3))
    outputs = tf_keras.layers.Lambda(lambda x: x[:, 0, 0, :2], name="corner")(inputs)
    save_with_tf_keras(tf_keras.Model(inputs, outputs), folder / "model.h5")
    with pytest.raises(ModelError, match=r"model photos: .*'corner' has class 'Lambda'"):
        load_registry(tmp_path)
