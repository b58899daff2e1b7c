"""Target-layer choice: ELI5's automatic rules, names, paths and indices."""

import keras
import pytest

from app.engine.layers.lookup import candidate_layers, resolve_layer
from app.errors import InvalidInput


def text_model(*layers):
    return keras.Sequential(
        [keras.Input((10,)), keras.layers.Embedding(20, 4, name="embed"), *layers]
    )


def test_image_auto_picks_last_rank4_layer(image_model):
    assert resolve_layer(image_model, None).name == "conv_b"


def test_mobilenet_auto_picks_out_relu():
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35)
    ref = resolve_layer(model, None)
    assert ref.name == "out_relu"
    assert ref.output_shape == (None, 3, 3, 1280)


def test_text_auto_prefers_recurrent_over_pooling():
    model = text_model(
        keras.layers.LSTM(3, return_sequences=True, name="lstm"),
        keras.layers.MaxPooling1D(name="pool"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(2),
    )
    assert resolve_layer(model, None).name == "lstm"


def test_text_auto_falls_back_to_pooling_then_embedding():
    pooled = text_model(
        keras.layers.MaxPooling1D(name="max"),
        keras.layers.AveragePooling1D(1, name="avg"),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    )
    assert resolve_layer(pooled, None).name == "avg"
    plain = text_model(keras.layers.Dense(2, name="dense"))
    assert resolve_layer(plain, None).name == "embed"


def test_text_auto_finds_conv1d():
    model = text_model(
        keras.layers.Conv1D(4, 1, name="conv"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(2),
    )
    assert resolve_layer(model, None).name == "conv"


def test_explicit_name_and_indices(image_model):
    assert resolve_layer(image_model, "conv_a").name == "conv_a"
    assert resolve_layer(image_model, 1).name == "conv_a"
    assert resolve_layer(image_model, -3).name == "conv_b"


def test_rank2_layer_is_rejected(image_model):
    with pytest.raises(InvalidInput, match="Can not perform Grad-CAM on layer 'gap'"):
        resolve_layer(image_model, "gap")
    with pytest.raises(InvalidInput, match="Can not perform Grad-CAM"):
        resolve_layer(image_model, -1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (1.0, "must be a name, a path or an integer"),
        (True, "must be a name, a path or an integer"),
        ("nope", "layer 'nope' not found"),
        (99, r"layer index 99 is out of range \[-5, 5\)"),
    ],
)
def test_bad_layer_specs(image_model, spec, message):
    with pytest.raises(InvalidInput, match=message):
        resolve_layer(image_model, spec)


def test_model_without_spatial_layer_has_no_automatic_choice():
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    with pytest.raises(InvalidInput, match="Could not find a suitable target layer"):
        resolve_layer(model, None)


def test_candidates_include_nested_layers(nested_model):
    names = [ref.name for ref in candidate_layers(nested_model)]
    assert names == ["base", "base/base_conv1", "base/base_conv2"]
    assert candidate_layers(nested_model)[1].index is None
