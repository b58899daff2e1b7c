"""Remote model cards, the endpoint's metadata and the client's retries (mock transport)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from app.errors import ModelError, RemoteModelFailed
from app.registry.card import ModelCard
from app.registry.formats.remote.client import RemoteClient, RemoteLimits
from app.registry.formats.remote.model import RemoteModel

URL = "http://predictor:8501/v1/models/shapes"
IMAGE = {"size": [64, 64], "scaling": "unit"}


def card(**fields: object) -> ModelCard:
    return ModelCard.model_validate(
        {"id": "r", "task": "image", "remote": URL, "image": IMAGE} | fields
    )


def metadata(key: str, dims: list[int], dtype: str = "DT_FLOAT") -> dict:
    shape = {"dim": [{"size": str(d)} for d in dims]}
    inputs = {key: {"dtype": dtype, "tensor_shape": shape, "name": f"{key}:0"}}
    signature = {"serving_default": {"inputs": inputs, "outputs": {}}}
    return {
        "model_spec": {"name": "shapes"},
        "metadata": {"signature_def": {"signature_def": signature}},
    }


def transport(meta: dict | None, seen: list[dict]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/metadata"):
            return httpx.Response(200, json=meta) if meta else httpx.Response(404)
        if request.method == "GET":
            return httpx.Response(200, json={"model_version_status": []})
        instances = json.loads(request.content)["instances"]
        seen.append(instances[0])
        return httpx.Response(200, json={"predictions": [[0.5, 0.5]] * len(instances)})

    return httpx.MockTransport(handle)


def test_a_remote_card_scores_outputs_and_names_no_file() -> None:
    assert card().score == "output"
    with pytest.raises(ValidationError, match="score"):
        card(score="logit")
    with pytest.raises(ValidationError, match="model_file"):
        card(model_file="model.keras")
    with pytest.raises(ValidationError, match="remote"):
        card(remote="ftp://predictor/v1/models/shapes")
    assert card(remote=URL + "/versions/3").remote.endswith("/versions/3")


def test_array_instances_go_under_the_metadatas_input_key() -> None:
    seen: list[dict] = []
    model = RemoteModel.connect(
        card(remote_input="array"), transport(metadata("pixels", [-1, 64, 64, 3]), seen)
    )
    assert model.ready and model.n_classes == 2 and model.input_key == "pixels"
    assert np.asarray(seen[0]["pixels"]).shape == (64, 64, 3)


def test_a_metadata_shape_that_contradicts_the_card_stops_the_load() -> None:
    with pytest.raises(ModelError, match=r"\[-1, 32, 32, 3\]"):
        RemoteModel.connect(
            card(remote_input="array"), transport(metadata("x", [-1, 32, 32, 3]), [])
        )


def sized_by_metadata(dims: list[int], dtype: str = "DT_FLOAT", **fields: object) -> RemoteModel:
    bare = ModelCard.model_validate({"id": "r", "task": "image", "remote": URL} | fields)
    return RemoteModel.connect(bare, transport(metadata("pixels", dims, dtype), []))


def test_a_card_without_a_size_takes_the_metadatas_shape() -> None:
    model = sized_by_metadata([-1, 48, 32, 1], remote_input="array")
    assert model.input_shape == (None, 48, 32, 1)
    assert model.card.image is not None
    assert model.card.image.size == (32, 48) and model.card.image.color_mode == "grayscale"
    assert model.ready and model.input_key == "pixels"


def test_the_card_keeps_its_scaling_when_the_metadata_gives_the_size() -> None:
    model = sized_by_metadata([-1, 64, 64, 3], image={"scaling": "symmetric"})
    assert model.card.image is not None
    assert model.card.image.size == (64, 64) and model.card.image.scaling == "symmetric"
    assert model.input_key is None  # b64: the images are not named


def test_a_cards_size_wins_over_the_metadata_for_b64_images() -> None:
    seen: list[dict] = []
    model = RemoteModel.connect(card(), transport(metadata("pixels", [-1, 32, 32, 3]), seen))
    assert model.input_shape == (None, 64, 64, 3)


def test_no_size_and_no_metadata_is_refused_at_load() -> None:
    bare = ModelCard.model_validate({"id": "r", "task": "image", "remote": URL})
    with pytest.raises(ModelError, match=r"no \[image\] size.*answered 404.*size = \[width"):
        RemoteModel.connect(bare, transport(None, []))


def test_no_size_and_a_b64_signature_is_refused_saying_why() -> None:
    with pytest.raises(ModelError, match=r"string tensor of shape \[-1\].*b64 signature"):
        sized_by_metadata([-1], dtype="DT_STRING")


def test_no_size_and_an_open_shape_is_refused() -> None:
    with pytest.raises(ModelError, match=r"\[-1, -1, -1, 3\], not \[batch, height"):
        sized_by_metadata([-1, -1, -1, 3])


def test_the_metadatas_channels_must_match_a_cards_color_mode() -> None:
    with pytest.raises(ModelError, match="color_mode = 'rgb'"):
        sized_by_metadata([-1, 64, 64, 1], image={"color_mode": "rgb"})


def test_only_a_remote_card_may_leave_out_the_size() -> None:
    with pytest.raises(ValidationError, match="size"):
        ModelCard.model_validate(
            {"id": "k", "task": "image", "model_file": "m.keras", "image": {"scaling": "unit"}}
        )


def test_b64_instances_without_metadata() -> None:
    seen: list[dict] = []
    model = RemoteModel.connect(card(), transport(None, seen))
    assert set(seen[0]) == {"b64"} and model.input_key is None


def test_retries_on_503_then_succeeds() -> None:
    answers = iter([httpx.Response(503), httpx.Response(503)])

    def handle(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json={"predictions": [[1.0, 0.0]]}))

    client = RemoteClient(URL, RemoteLimits(retries=2), httpx.MockTransport(handle))
    np.testing.assert_array_equal(client.predict([[0]]), [[1.0, 0.0]])
    assert client.calls == 3


def test_connection_errors_are_retried_then_a_502() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = RemoteClient(URL, RemoteLimits(retries=1), httpx.MockTransport(handle))
    with pytest.raises(RemoteModelFailed, match="unreachable after 2 tries"):
        client.predict([[0]])
    assert client.calls == 2


def test_a_not_ready_remote_loads_not_ready() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="loading")

    model = RemoteModel.connect(card(remote_retries=0), httpx.MockTransport(handle))
    assert not model.ready and "503" in (model.error or "")


def test_a_remote_card_with_a_head_is_refused() -> None:
    # Its :predict answers one (batch, n) tensor: there is no region or box to score.
    with pytest.raises(ValidationError, match="explained as a classifier"):
        card(head="segmentation")
