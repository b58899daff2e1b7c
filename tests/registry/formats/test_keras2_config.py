"""Keras 2 config keys translated to Keras 3, one rule at a time."""

import pytest

from app.errors import ModelError
from app.registry.formats.keras2.activations import KERAS2_HARD_SIGMOID_CONFIG
from app.registry.formats.keras2.config import translate_layer, translate_model


def layer(class_name: str, **config) -> dict:
    return {"class_name": class_name, "config": {"name": "l", **config}}


def translated(class_name: str, **config) -> dict:
    return translate_layer(layer(class_name, **config))["config"]


def test_batchnorm_axis_list_becomes_an_int_and_neutral_keras2_keys_go():
    config = translated(
        "BatchNormalization", axis=[3], fused=None, renorm=False, renorm_clipping=None,
        renorm_momentum=0.99, virtual_batch_size=None, adjustment=None, epsilon=0.001,
    )  # fmt: skip
    assert config == {"name": "l", "axis": 3, "epsilon": 0.001}


def test_renorm_and_time_major_have_no_keras_3_meaning():
    with pytest.raises(ModelError, match=r"'l' \(BatchNormalization\).*renorm=True"):
        translated("BatchNormalization", renorm=True)
    with pytest.raises(ModelError, match="time_major=True"):
        translated("LSTM", units=2, time_major=True)
    assert translated("LSTM", units=2, time_major=False, implementation=2) == {
        "name": "l",
        "units": 2,
    }


def test_dtype_policy_dicts_become_names():
    keras2 = {"class_name": "Policy", "config": {"name": "mixed_float16"}}
    assert translated("Dense", units=1, dtype=keras2)["dtype"] == "mixed_float16"
    keras215 = {
        "module": "keras.mixed_precision",
        "class_name": "Policy",
        "config": keras2["config"],
    }
    assert translated("Dense", units=1, dtype=keras215)["dtype"] == "mixed_float16"


def test_weight_setup_objects_are_dropped_and_alpha_renamed():
    glorot = {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg"}}
    config = translated(
        "Dense", units=2, kernel_initializer=glorot, bias_regularizer=None,
        kernel_constraint={"class_name": "MaxNorm"}, activity_regularizer=None,
    )  # fmt: skip
    assert config == {"name": "l", "units": 2}
    assert translated("LeakyReLU", alpha=0.2) == {"name": "l", "negative_slope": 0.2}


def test_keras_2_hard_sigmoid_becomes_the_services_own():
    config = translated("LSTM", units=2, activation="tanh", recurrent_activation="hard_sigmoid")
    assert config["activation"] == "tanh"
    assert config["recurrent_activation"] == KERAS2_HARD_SIGMOID_CONFIG
    tf_keras_215 = {"module": "keras.activations", "class_name": "function",
                    "config": "hard_sigmoid", "registered_name": "hard_sigmoid"}  # fmt: skip
    assert translated("Dense", units=1, activation=tf_keras_215)["activation"] == (
        KERAS2_HARD_SIGMOID_CONFIG
    )


def test_hard_sigmoid_inside_a_wrapper_is_translated_too():
    inner = layer("GRU", units=2, recurrent_activation="hard_sigmoid")
    wrapped = translated("Bidirectional", layer=inner, backward_layer=inner)
    for key in ("layer", "backward_layer"):
        assert wrapped[key]["config"]["recurrent_activation"] == KERAS2_HARD_SIGMOID_CONFIG


def test_keras_2_2_2_sequential_list_and_first_layer_shape():
    first = layer("Embedding", input_dim=9, output_dim=2, input_length=7, dtype="float32")
    model = translate_model({"class_name": "Sequential", "config": [first, layer("Flatten")]})
    inputs, embedding, _ = model["config"]["layers"]
    assert inputs["class_name"] == "InputLayer"
    assert inputs["config"]["batch_shape"] == [None, 7]
    assert "input_length" not in embedding["config"]
    assert model["class_name"] == "Sequential"


def test_dotted_class_names_and_model_alias():
    assert translate_layer(layer("keras.layers.Dense", units=1))["class_name"] == "Dense"
    functional = {
        "class_name": "Model",
        "config": {"name": "m", "layers": [], "input_layers": [], "output_layers": []},
    }
    assert translate_model(functional)["class_name"] == "Functional"


def test_wrapped_layers_are_checked_too():
    inner = layer("Lambda", function="...")
    with pytest.raises(ModelError, match="'l' has class 'Lambda'"):
        translated("TimeDistributed", layer=inner)


def test_a_file_holding_a_layer_is_not_a_model():
    with pytest.raises(ModelError, match="not a Sequential or functional model"):
        translate_model(layer("Dense", units=1))
