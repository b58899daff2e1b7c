"""SavedModel folders as model files: Keras 3 exports, tf-keras, plain tf.Module code,
token ids, encoded images, and the op allow-list."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from app.engine.layers.lookup import candidate_layers
from app.engine.runtime.gradcam import GradCam
from app.errors import ModelError
from app.registry.card import ModelCard, SavedModelConfig
from app.registry.files import file_sha256
from app.registry.formats.savedmodel.load import load_saved_model
from app.registry.registry import load_registry
from tests import savedmodels as sm

IMAGE_CARD = ModelCard(id="m", task="image", model_file="sm", image={"size": (16, 16)})
TEXT_CARD = ModelCard(id="t", task="text", model_file="sm", text={"vocab_file": "vocab.txt"})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("savedmodels")


@pytest.fixture(scope="module")
def keras3(folder):
    model = sm.small_cnn()
    return model, load_saved_model(sm.export_keras3(model, folder / "keras3"), IMAGE_CARD)


@pytest.fixture(scope="module")
def plain(folder):
    module = sm.PlainCnn()
    path = sm.save_module(module, folder / "plain", module.serve)
    return module, path


def with_saved_model(**fields: str) -> ModelCard:
    return IMAGE_CARD.model_copy(update={"saved_model": SavedModelConfig(**fields)})


def images(n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, sm.SIDE, sm.SIDE, 3), dtype=np.float32)


def test_keras3_export_lists_the_keras_layer_names(keras3):
    model, frozen = keras3
    assert [ref.name for ref in frozen.candidate_layers()] == [
        ref.name for ref in candidate_layers(model)
    ]  # conv2d, bn, conv2d_1 (a name Keras itself suffixed), c2
    assert frozen.auto_layer().name == "c2"
    assert frozen.logit_name is not None and "dense" in frozen.logit_name


def test_keras3_export_maps_equal_the_keras_model(keras3):
    model, frozen = keras3
    x = images()
    for layer in ("c2", "conv2d_1"):
        expected = GradCam(model, layer).explain(x, [0, 2])
        got = GradCam(frozen, layer).explain(x, [0, 2])
        np.testing.assert_allclose(got.cams, expected.cams, atol=1e-6)
        np.testing.assert_allclose(got.predictions, expected.predictions, atol=1e-6)
        np.testing.assert_array_equal(got.targets, expected.targets)


def test_tf_keras_savedmodel_against_a_tf_keras_tape(folder):
    import tf_keras

    model = sm.save_tf_keras(folder / "tf_keras")
    frozen = load_saved_model(folder / "tf_keras", IMAGE_CARD)
    assert [ref.name for ref in frozen.candidate_layers()] == ["c1", "c"]
    x = images(seed=1)
    grad_model = tf_keras.Model(model.inputs, [model.get_layer("c").output, model.output])
    with tf.GradientTape() as tape:
        activations, outputs = grad_model(x)
        score = outputs[:, 1]
    weights = tf.reduce_mean(tape.gradient(score, activations), axis=[1, 2], keepdims=True)
    expected = np.maximum(tf.reduce_sum(weights * activations, axis=-1).numpy(), 0.0)
    got = GradCam(frozen, None).explain(x, [1], score="output")
    np.testing.assert_allclose(got.cams, expected, atol=1e-6)


def test_plain_module_against_a_direct_computation(plain):
    module, path = plain
    frozen = load_saved_model(path, IMAGE_CARD)
    assert frozen.auto_layer().name == "Relu"  # no Keras scope: the op name
    x = images(seed=2)
    cams = GradCam(frozen, None).explain(x, [1])
    np.testing.assert_allclose(cams.cams, sm.direct_gradcam(module, x, 1), atol=1e-6)
    by_op_name = GradCam(frozen, "features").explain(x, [1])  # the conv, before the relu
    assert by_op_name.cams.shape == cams.cams.shape


def test_text_savedmodel_takes_token_ids(folder):
    model = sm.small_text_model()
    frozen = load_saved_model(sm.export_keras3(model, folder / "text"), TEXT_CARD)
    assert frozen.auto_layer().name == "conv"  # ELI5's rule: the Conv1D
    ids = np.random.default_rng(3).integers(0, 20, size=(2, 12)).astype(np.int32)
    for method in ("gradcam", "scorecam"):  # scorecam masks the embedding's output
        expected = GradCam(model, None, method=method).explain(ids)
        got = GradCam(frozen, None, method=method).explain(ids)
        np.testing.assert_allclose(got.heatmaps, expected.heatmaps, atol=1e-5)


def test_encoded_jpeg_signature_is_explained_after_the_decode(folder):
    module = sm.JpegCnn()
    path = sm.save_module(module, folder / "jpeg", module.serve_bytes)
    frozen = load_saved_model(path, IMAGE_CARD)
    assert frozen.decoded is not None and frozen.decoded.output_shape == (None, 16, 16, 3)
    assert [ref.name for ref in frozen.candidate_layers()] == ["features", "Relu"]
    uploads = np.array([sm.jpeg_bytes(1), sm.jpeg_bytes(2)], dtype=object)
    cams = GradCam(frozen, None).explain(uploads, [2])
    decoded = sm.decode(tf.constant(uploads)).numpy()
    np.testing.assert_allclose(cams.cams, sm.direct_gradcam(module, decoded, 2), atol=1e-6)


def test_an_op_outside_the_allow_list_is_refused_unless_trusted(folder, plain):
    module = sm.ReadsFiles(str(plain[1] / "saved_model.pb"))
    path = sm.save_module(module, folder / "reads", module.serve)
    with pytest.raises(ModelError, match="signature 'serving_default' uses op ReadFile"):
        load_saved_model(path, IMAGE_CARD)
    trusted = load_saved_model(path, IMAGE_CARD.model_copy(update={"trust_graph": True}))
    assert GradCam(trusted, None).explain(images()).heatmaps.shape == (2, 14, 14)


def test_signatures_the_service_cannot_drive_are_refused(plain):
    _, path = plain
    with pytest.raises(ModelError, match=r"no signature 'other'.*serving_default"):
        load_saved_model(path, with_saved_model(signature="other"))
    with pytest.raises(ModelError, match=r"input 'images' is float32.*integer \(batch, steps\)"):
        load_saved_model(path, TEXT_CARD)
    with pytest.raises(ModelError, match=r"no output 'logits'.*probabilities"):
        load_saved_model(path, with_saved_model(output_key="logits"))


def test_a_card_naming_a_savedmodel_folder_is_served(tmp_path, plain):
    _, path = plain
    model_dir = tmp_path / "models" / "plain"
    model_dir.mkdir(parents=True)
    shutil.copytree(path, model_dir / "sm")
    sm.write_card(
        model_dir, "plain", 'task = "image"\nmodel_file = "sm"\n[image]\nsize = [16, 16]\n'
    )
    registry = load_registry(tmp_path / "models")
    served = registry.models["plain"]
    assert served.input_shape == (None, 16, 16, 3)
    assert [ref.name for ref in served.candidate_layers] == ["features", "Relu"]
    assert served.graph_summary()["trust_graph"] is False
    served.warm_up()
    assert served.ready


def test_sha256_of_files_inside_a_savedmodel_folder_is_checked(tmp_path, plain):
    _, path = plain
    model_dir = tmp_path / "models" / "plain"
    model_dir.mkdir(parents=True)
    shutil.copytree(path, model_dir / "sm")
    card = 'task = "image"\nmodel_file = "sm"\n[image]\nsize = [16, 16]\n[sha256]\n'
    sm.write_card(model_dir, "plain", card + f'"sm/saved_model.pb" = "{"0" * 64}"\n')
    with pytest.raises(ModelError, match=r"'sm/saved_model\.pb' does not match its sha256"):
        load_registry(tmp_path / "models")
    digest = file_sha256(model_dir / "sm" / "saved_model.pb")
    sm.write_card(model_dir, "plain", card + f'"sm/saved_model.pb" = "{digest}"\n')
    assert load_registry(tmp_path / "models").models["plain"].input_shape == (None, 16, 16, 3)
