"""The committed `keywords` model meets its card: figures, files, checksums."""

import hashlib
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.runtime.gradcam import GradCam
from training.evaluate_keywords import evaluate
from training.keywords_data import (
    LABELS,
    OOV_ID,
    PAD_ID,
    SEQUENCE_LENGTH,
    filler_ids,
    keyword_ids,
    load_vocabulary,
    make_samples,
)

pytestmark = pytest.mark.slow

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "keywords"
HELD_OUT_SEED = 31_337  # used by neither training (42, 43, 52) nor the README figures (777)
MAX_MODEL_BYTES = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def model() -> keras.Model:
    path = MODEL_DIR / "model.keras"
    return keras.saving.load_model(path, compile=False, safe_mode=True)


@pytest.fixture(scope="module")
def card() -> dict:
    return tomllib.loads((MODEL_DIR / "model.toml").read_text())


def token_evidence(model: keras.Model) -> np.ndarray:
    """(vocab, classes): what each token, wherever it sits, adds to each logit.

    Conv1D(kernel_size=1) sees one token per position and global max pooling passes
    each channel's gradient (the Dense weight) to one position, so the Grad-CAM weight
    of channel c for class k is W[c, k] / T and the map at position t is
    evidence[token_t, k] / T: a function of the token alone, not of its neighbours.
    """
    embeddings = model.get_layer("token_embedding").embeddings.numpy()
    detector = model.get_layer("keyword_detector")
    detected = np.maximum(embeddings @ detector.kernel.numpy()[0] + detector.bias.numpy(), 0)
    return detected @ model.get_layer("topic").kernel.numpy()


def test_held_out_figures_per_padding_side() -> None:
    figures = evaluate(MODEL_DIR, n=1000, seed=HELD_OUT_SEED)
    assert figures["layer"] == "keyword_detector"
    for padding in ("post", "pre"):
        assert figures[padding]["n"] >= 500
        assert figures[padding]["accuracy"] >= 0.98, figures
        assert figures[padding]["keyword_hit"] >= 0.90, figures


def test_map_is_a_function_of_each_token(model: keras.Model) -> None:
    vocab, keywords = load_vocabulary(MODEL_DIR)
    ids, _, _, _ = make_samples(64, HELD_OUT_SEED, "pre", vocab, keywords)
    result = GradCam(model).explain(ids)
    cams = np.maximum(token_evidence(model)[ids, result.targets[:, None]], 0) / SEQUENCE_LENGTH
    expected = cams / (cams.max(axis=1, keepdims=True) + 1e-7)
    np.testing.assert_allclose(result.heatmaps, expected, rtol=1e-4, atol=1e-6)


def test_every_keyword_outweighs_every_filler(model: keras.Model) -> None:
    """With the map per token, this guarantees a hit whenever the prediction is right."""
    vocab, keywords = load_vocabulary(MODEL_DIR)
    evidence = token_evidence(model)
    others = np.append(filler_ids(vocab, keywords), OOV_ID)
    for label, topic_keywords in enumerate(keyword_ids(vocab, keywords)):
        weakest_keyword = evidence[topic_keywords, label].min()
        assert weakest_keyword > max(evidence[others, label].max(), 0), LABELS[label]


def test_model_file_is_small() -> None:
    assert (MODEL_DIR / "model.keras").stat().st_size < MAX_MODEL_BYTES


def test_checksums_match_the_card(card: dict) -> None:
    for name, expected in card["sha256"].items():
        assert hashlib.sha256((MODEL_DIR / name).read_bytes()).hexdigest() == expected, name
    assert set(card["sha256"]) == {"model.keras", "vocab.txt"}


def test_vocabulary_layout(card: dict) -> None:
    vocab, keywords = load_vocabulary(MODEL_DIR)
    text = card["text"]
    assert vocab[text["pad_id"]] == text["pad_token"] == "<pad>"
    assert text["pad_id"] == PAD_ID and vocab[text["oov_id"]] == "<unk>"
    assert len(set(vocab)) == len(vocab)
    assert all(token == token.lower() and " " not in token for token in vocab)
    assert len(filler_ids(vocab, keywords)) >= 400
    assert [len(keywords[label]) for label in LABELS] == [8] * len(LABELS)
    assert vocab[-8 * len(LABELS) :] == [w for label in LABELS for w in keywords[label]]
    assert (MODEL_DIR / "labels.txt").read_text().splitlines() == list(LABELS)
