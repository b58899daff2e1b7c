"""Broken models at start-up, optional models, and requests that try to name files."""

import keras
import pytest
from fastapi.testclient import TestClient

import app.registry.registry as registry_module
from app.errors import ModelError
from app.main import create_app
from app.settings import Settings
from tests.hardening.conftest import TINY, add_tiny_model, assert_problem


def lambda_model() -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t * 2)(inputs)
    x = keras.layers.Conv2D(2, 3, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def missing(folder):
    (folder / "model.keras").unlink()


def corrupt(folder):
    (folder / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")


FAULTS = {
    "missing file": (missing, "", r"file 'model\.keras' is missing"),
    "corrupt file": (corrupt, "", r"cannot load model\.keras"),
    "wrong sha256": (None, '[sha256]\n"model.keras" = "' + "0" * 64 + '"', "does not match"),
    "Lambda layer": (None, "", r"cannot load model\.keras.*(Lambda|safe_mode)"),
}


def app_on(root):
    return create_app(Settings(models_dir=root, _env_file=None))


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_broken_required_model_stops_start_up_naming_model_and_reason(tmp_path, fault):
    damage, extra, reason = fault
    add_tiny_model(tmp_path, "fine")
    model = lambda_model() if "Lambda" in reason else None
    folder = add_tiny_model(tmp_path, "broken", extra=extra, model=model)
    if damage is not None:
        damage(folder)
    with (
        pytest.raises(ModelError, match=rf"model broken: .*{reason}"),
        TestClient(app_on(tmp_path)),
    ):
        pass


@pytest.fixture(scope="module")
def half_broken(tmp_path_factory):
    """`tiny` serves; `broken` (corrupt) and `unsafe` (Lambda) are optional."""
    root = tmp_path_factory.mktemp("half_broken")
    add_tiny_model(root)
    corrupt(add_tiny_model(root, "broken", extra="required = false"))
    add_tiny_model(root, "unsafe", extra="required = false", model=lambda_model())
    with TestClient(app_on(root), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("model_id", ["broken", "unsafe"])
def test_an_optional_broken_model_is_503_while_the_others_serve(half_broken, tiny_png, model_id):
    response = half_broken.post(
        f"/v1/models/{model_id}:explain", content=tiny_png, headers={"content-type": "image/png"}
    )
    problem = assert_problem(response, 503)
    assert f"model {model_id} is not available" in problem["detail"]
    assert_problem(half_broken.get(f"/v2/models/{model_id}/ready"), 503)
    assert_problem(half_broken.get(f"/v1/models/{model_id}"), 503)
    served = half_broken.post(TINY, content=tiny_png, headers={"content-type": "image/png"})
    assert served.status_code == 200
    assert half_broken.get("/v2/health/ready").status_code == 200  # the service is ready


def test_only_the_serving_models_are_listed(half_broken):
    listed = {m["id"] for m in half_broken.get("/v1/models").json()["models"]}
    assert listed == {"tiny"}


@pytest.mark.parametrize(
    "model_id",
    [
        "..%2Fkeywords",
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "http:%2F%2Fevil.example%2Fm.keras",
        "tiny%00",
        "TINY",
        "tiny%2Fmodel.keras",
        "~",
    ],
)
def test_model_ids_are_only_looked_up_in_the_registry(client, tiny_png, monkeypatch, model_id):
    def no_loading(*args, **kwargs):
        raise AssertionError("a request loaded a model file")

    monkeypatch.setattr(registry_module, "load_keras_model", no_loading)
    monkeypatch.setattr(keras.saving, "load_model", no_loading)
    response = client.post(
        f"/v1/models/{model_id}:explain", content=tiny_png, headers={"content-type": "image/png"}
    )
    assert response.status_code == 404, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert_problem(client.get(f"/v1/models/{model_id}"), 404)


@pytest.mark.parametrize(
    "instance",
    [
        {"image": {"url": "http://evil.example/a.png"}},
        {"image": {"path": "/etc/passwd"}},
        {"image": {"b64": "AAAA", "file": "/etc/passwd"}},
        {"file": "/etc/passwd"},
        {"url": "http://evil.example/a.png"},
    ],
)
def test_no_field_can_name_a_file_or_url(client, instance):
    response = client.post(TINY, json={"instances": [instance]})
    assert "Extra inputs are not permitted" in assert_problem(response, 422)["detail"]


@pytest.mark.parametrize("layer", ["/etc/passwd", "../model.keras", "http://evil.example/x"])
def test_a_layer_is_a_name_inside_the_model_not_a_path(client, tiny_png, layer):
    response = client.post(
        TINY,
        content=tiny_png,
        headers={"content-type": "image/png"},
        params={"layer": layer},
    )
    assert "not found" in assert_problem(response, 422)["detail"]
