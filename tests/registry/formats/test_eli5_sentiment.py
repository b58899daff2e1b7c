"""ELI5's IMDB sentiment classifier (Keras 2.2.4, Bidirectional LSTMs with hard_sigmoid).

Read from the shared folder beside the repository (its word index is not shipped, so it is
not bundled). tf-keras, the Keras 2 oracle, loads the same file as it is.
"""

from pathlib import Path

import numpy as np
import pytest
import tf_keras

from app.engine.layers.lookup import candidate_layers, resolve_layer
from app.registry.formats.keras2.load import load_keras2_h5
from tests.shared_files import SENTIMENT_H5, eli5_sentiment_published, shared_file

pytestmark = pytest.mark.slow  # LSTMs over 128 steps, traced and taped: about a minute
PUBLISHED = eli5_sentiment_published()


@pytest.fixture(scope="module")
def sentiment_path() -> Path:
    return shared_file(SENTIMENT_H5)


@pytest.fixture(scope="module")
def models(sentiment_path):
    return load_keras2_h5(sentiment_path), tf_keras.models.load_model(sentiment_path, compile=False)


def padded_batch(lengths: list[int], total: int, seed: int) -> np.ndarray:
    """Reviews of `lengths` ids (1 = <START>, then words), post-padded with 0 to `total`."""
    rng = np.random.default_rng(seed)
    batch = np.zeros((len(lengths), total), np.int32)
    for row, length in enumerate(lengths):
        batch[row, :length] = [1, *rng.integers(3, 10000, size=length - 1)]
    return batch


@pytest.mark.parametrize(
    "batch",
    [
        padded_batch([128, 70, 12, 3], total=128, seed=1),  # padded, as the model was trained
        padded_batch([40, 40], total=40, seed=2),  # another length, no padding
        padded_batch([9], total=9, seed=3),
        padded_batch([200, 150], total=200, seed=4),  # longer than the training reviews
    ],
    ids=["padded-128", "unpadded-40", "unpadded-9", "padded-200"],
)
def test_predictions_equal_tf_keras(models, batch):
    ours, oracle = models
    expected = oracle.predict(batch, verbose=0)
    np.testing.assert_allclose(ours.predict(batch, verbose=0), expected, rtol=0, atol=1e-6)
    assert expected.shape == (len(batch), 1)


def test_eli5s_published_predictions(models):
    ours, _ = models
    test = PUBLISHED["test_review"]
    padded = [*test["ids"], *[0] * (test["padded_length"] - len(test["ids"]))]
    custom = PUBLISHED["custom_review"]
    for ids, published in ((padded, test["prediction"]), (custom["ids"], custom["prediction"])):
        got = ours.predict(np.array([ids]), verbose=0)[0, 0]
        assert got == pytest.approx(published, abs=1e-6)  # printed with 7 digits, TF 1.14


def test_recurrent_text_layers_are_candidates_and_the_default_is_eli5s(models):
    ours, _ = models
    names = [ref.name for ref in candidate_layers(ours)]
    assert names == [
        "embedding_1",
        "masking_1",
        "masking_2",
        "masking_3",
        "bidirectional_1",
        "bidirectional_2",
    ]  # fmt: skip  (bidirectional_3 returns no sequence: (None, 32))
    assert resolve_layer(ours, None).name == "bidirectional_2"  # the last rank-3 recurrent
