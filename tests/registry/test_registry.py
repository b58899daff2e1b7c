"""Model cards and the registry: loading, confinement, checksums, safe mode, failures."""

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from app.errors import ModelError, ModelNotFound, ModelNotReady
from app.preprocess.word_filter import KERAS_FILTERS
from app.registry import served as served_module
from app.registry.card import read_card
from app.registry.files import file_sha256, read_entries
from app.registry.registry import load_registry

CARD = """
id = "{id}"
version = "3"
task = "image"
model_file = "{file}"
labels_file = "labels.txt"
{extra}

[image]
size = [16, 16]
scaling = "unit"
"""


def tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def add_model(root: Path, model_id: str, *, file="model.keras", extra="", model=None) -> Path:
    folder = root / model_id
    folder.mkdir(parents=True)
    (model or tiny_model()).save(folder / "model.keras")
    (folder / "labels.txt").write_text("cat\ndog\n")
    (folder / "model.toml").write_text(CARD.format(id=model_id, file=file, extra=extra))
    return folder


def test_loads_a_dropped_in_folder(tmp_path):
    add_model(tmp_path, "tiny")
    registry = load_registry(tmp_path)
    served = registry.models["tiny"]
    assert served.labels == ("cat", "dog")
    assert served.card.version == "3"
    assert served.default_gradcam().layer.name == "conv"
    assert not registry.ready  # loaded but not warmed
    registry.warm_up()
    assert registry.ready and registry.get("tiny") is served


def test_scaling_unit_divides_by_255(tmp_path):
    add_model(tmp_path, "tiny")
    served = load_registry(tmp_path).models["tiny"]
    assert served.scaling is not None
    np.testing.assert_allclose(served.scaling(np.full((1, 2), 255.0, np.float32)), 1.0)


def test_unknown_model_is_404(tmp_path):
    add_model(tmp_path, "tiny")
    registry = load_registry(tmp_path)
    with pytest.raises(ModelNotFound, match="'other' is not in the registry"):
        registry.get("other")


def test_path_escaping_the_models_dir_is_refused(tmp_path):
    add_model(tmp_path / "models", "tiny", file="../../secret.keras")
    tiny_model().save(tmp_path / "secret.keras")
    with pytest.raises(ModelError, match="outside the models directory"):
        load_registry(tmp_path / "models")


def test_sha256_mismatch_is_refused_and_match_accepted(tmp_path):
    folder = add_model(tmp_path, "tiny", extra='[sha256]\n"model.keras" = "' + "0" * 64 + '"')
    with pytest.raises(ModelError, match="does not match its sha256"):
        load_registry(tmp_path)
    digest = file_sha256(folder / "model.keras")
    card = (folder / "model.toml").read_text().replace("0" * 64, digest)
    (folder / "model.toml").write_text(card)
    assert "tiny" in load_registry(tmp_path).models


def test_lambda_layer_is_refused_by_safe_mode(tmp_path):
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Lambda(lambda t: t * 2)(inputs)
    x = keras.layers.Conv2D(2, 3)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    add_model(tmp_path, "lambda", model=model)
    with pytest.raises(ModelError, match=r"model lambda: cannot load model\.keras"):
        load_registry(tmp_path)


def test_missing_and_corrupt_files(tmp_path):
    folder = add_model(tmp_path, "tiny")
    (folder / "model.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="model tiny: cannot load"):
        load_registry(tmp_path)
    (folder / "model.keras").unlink()
    with pytest.raises(ModelError, match=r"'model\.keras' is missing"):
        load_registry(tmp_path)


def test_optional_model_that_fails_is_not_ready_and_others_serve(tmp_path):
    add_model(tmp_path, "good")
    broken = add_model(tmp_path, "broken", extra="required = false")
    (broken / "model.keras").write_bytes(b"corrupt")
    registry = load_registry(tmp_path)
    registry.warm_up()
    assert registry.get("good").ready
    with pytest.raises(ModelNotReady, match="model broken is not available"):
        registry.get("broken")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('id = "x"\ntask = "image"\nmodel_file = "m.keras"', "needs an \\[image\\] section"),
        ('id = "x"\ntask = "audio"', "task"),
        (
            'id = "x"\ntask = "text"\nmodel_file = "m.h5"\n[architecture]\nname = "X"\n'
            '[text]\nvocab_file = "v"',
            "at most one of model_file",
        ),
        ('id = "other"\ntask = "image"', "must equal its folder name|needs an \\[image\\]"),
        ("id = ", "cannot be read"),
        (
            'id = "x"\ntask = "image"\nmodel_file = "m"\nsurprise = 1\n[image]\nsize = [1, 1]',
            "surprise",
        ),
        (
            'id = "x"\ntask = "text"\nmodel_file = "m.h5"\n[text]\nsequence_length = 4',
            "exactly one of vocab_file or tokenizer_file",
        ),
        (
            'id = "x"\ntask = "text"\nmodel_file = "m.h5"\n[text]\nvocab_file = "v"\n'
            'tokenizer_file = "t.json"',
            "exactly one of vocab_file or tokenizer_file",
        ),
        (
            'id = "x"\ntask = "text"\nmodel_file = "m.h5"\n[text]\ntokenizer_file = "t.json"\n'
            "lowercase = false",
            "come from the tokenizer_file",
        ),
        (
            'id = "x"\ntask = "text"\nmodel_file = "m.h5"\n[text]\nvocab_file = "v"\n'
            'filters = ".,"',
            'filters is only read with word_filter = "keras"',
        ),
        (
            'id = "x"\ntask = "text"\nmodel_file = "m.h5"\n[text]\nvocab_file = "v"\n'
            'truncating = "post"',
            "truncating needs a sequence_length",
        ),
        (
            'id = "x"\ntask = "text"\nmodel_file = "m.h5"\n[text]\ntokenizer_file = "t.json"\n'
            'word_filter = "keras"',
            "come from the tokenizer_file",
        ),
        (
            'id = "x"\ntask = "text"\nmodel_file = "m.h5"\n[text]\nvocab_file = "v"\n'
            'word_filter = "nltk"',
            "word_filter",
        ),
    ],
)
def test_bad_cards_fail_with_the_card_path(tmp_path, text, message):
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "model.toml").write_text(text)
    with pytest.raises(ModelError, match=message):
        read_card(folder)


def test_an_unknown_model_file_suffix_is_refused(tmp_path):
    folder = add_model(tmp_path, "tiny", file="model.pt")
    (folder / "model.pt").write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"model.pt: the suffix is not .keras, .h5, .hdf5"):
        load_registry(tmp_path)


def test_keras_applications_card_with_random_seeded_weights(tmp_path):
    folder = tmp_path / "mnet"
    folder.mkdir()
    (folder / "model.toml").write_text(
        'id = "mnet"\ntask = "image"\n[architecture]\nname = "MobileNetV2"\nseed = 3\n'
        "input_shape = [32, 32, 3]\n[image]\nsize = [32, 32]\n"
        'scaling = "keras.applications.mobilenet_v2"\n'
    )
    first = load_registry(tmp_path).models["mnet"]
    second = load_registry(tmp_path).models["mnet"]
    assert first.default_gradcam().layer.name == "out_relu"
    for a, b in zip(first.model.get_weights()[:3], second.model.get_weights()[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    pixels = np.full((1, 2, 2, 3), 255.0, np.float32)
    np.testing.assert_allclose(first.scaling(pixels), 1.0)


def test_bundled_models_dir_loads():
    root = Path(__file__).resolve().parents[2] / "models"
    registry = load_registry(root)
    assert {"shapes", "keywords", "efficientnet_lite0"} <= set(registry.models)


def test_copying_a_folder_adds_a_model(tmp_path):
    root = Path(__file__).resolve().parents[2] / "models"
    shutil.copytree(root / "keywords", tmp_path / "keywords")
    assert set(load_registry(tmp_path).models) == {"keywords"}


def test_compiled_answers_only_for_layers_already_compiled(tmp_path):
    add_model(tmp_path, "tiny")
    served = load_registry(tmp_path).models["tiny"]
    default = served.gradcam(None)
    assert served.compiled(None) is default
    assert served.compiled("conv") is None  # never asked by name: the caller must resolve
    assert served.gradcam("conv") is default  # the same layer, the same compiled function
    assert served.compiled("conv") is default
    assert served.compiled("no_such_layer") is None


def test_one_compiled_function_per_layer_and_method(tmp_path):
    add_model(tmp_path, "tiny")
    served = load_registry(tmp_path).models["tiny"]
    default = served.gradcam(None)
    assert served.compiled(None, "scorecam") is None
    scorecam = served.gradcam(None, "scorecam")
    assert scorecam is not default and scorecam.method.name == "scorecam"
    assert served.compiled(None, "scorecam") is scorecam
    assert served.gradcam(None, "scorecam") is scorecam
    assert served.gradcam(None) is default
    assert scorecam.forward is default.forward  # one plain forward per model, for metrics


def test_trace_count_keeps_the_traces_of_evicted_functions(tmp_path, monkeypatch):
    """A function dropped from the bounded cache and traced again is a new trace: the
    count only grows (a soak reads it to find retraces)."""
    monkeypatch.setattr(served_module, "MAX_COMPILED_LAYERS", 1)
    add_model(tmp_path, "tiny")
    served = load_registry(tmp_path).models["tiny"]
    pixels = np.zeros((1, 16, 16, 3), "float32")
    served.gradcam(None).explain(pixels)
    first = served.trace_count
    served.gradcam(None, "gradcam++").explain(pixels)  # evicts gradcam
    second = served.trace_count
    assert served.compiled(None) is None and second > first
    served.gradcam(None).explain(pixels)  # compiled and traced again
    assert served.trace_count > second


# --- a .csv index as vocabulary or labels (pandas' to_csv of a {entry: index} dict) ------


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "index.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_a_csv_index_gives_the_entries_in_index_order(tmp_path):
    path = write_csv(tmp_path, ',0\nb,1\n"\n",3\n",",2\n<PAD>,0\n"""",4\n')
    assert read_entries(path) == ("<PAD>", "b", ",", "\n", '"')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (",0\na,0\nb,2\n", "not 0..1"),
        (",0\na,0\nb,0\n", "index 0 is given twice"),
        (",0\na,x\n", "expected entry,index"),
        (",0\na,0,1\n", "expected entry,index"),
    ],
)
def test_a_bad_csv_index_is_refused(tmp_path, text, message):
    with pytest.raises(ModelError, match=message):
        read_entries(write_csv(tmp_path, text))


def test_a_text_card_with_csv_files_loads_and_names_a_bad_one(tmp_path):
    folder = tmp_path / "chars"
    folder.mkdir()
    inputs = keras.Input((8,), dtype="int32")
    x = keras.layers.Embedding(4, 2)(inputs)
    x = keras.layers.Conv1D(2, 3, name="conv")(x)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(x))
    keras.Model(inputs, outputs).save(folder / "model.keras")
    (folder / "labels.csv").write_text(",0\nno,0\nyes,1\n")
    (folder / "chars.csv").write_text(',0\n<PAD>,0\n<OOV>,1\n" ",2\na,3\n')
    (folder / "model.toml").write_text(
        'id = "chars"\ntask = "text"\nmodel_file = "model.keras"\nlabels_file = "labels.csv"\n'
        '[text]\nvocab_file = "chars.csv"\ntokenizer = "char"\nword_filter = "keras"\n'
        'sequence_length = 8\ntruncating = "post"\n'
    )
    served = load_registry(tmp_path).models["chars"]
    assert served.labels == ("no", "yes")
    assert served.text_spec.vocab == ("<PAD>", "<OOV>", " ", "a")
    assert served.text_spec.filters == KERAS_FILTERS and served.text_spec.truncating == "post"
    (folder / "labels.csv").write_text(",0\nno,0\nyes,2\n")
    with pytest.raises(ModelError, match=r"model chars: labels\.csv: the indices"):
        load_registry(tmp_path)
