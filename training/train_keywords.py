"""Train the `keywords` demo text model: `python -m training.train_keywords`.

Writes models/keywords/{model.keras, vocab.txt, keywords.json, labels.txt, model.toml}.
"""

import argparse
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training.keras_files import file_sha256, save_for_serving
from training.keywords_data import (
    LABELS,
    OOV_ID,
    PAD_ID,
    PAD_TOKEN,
    SEQUENCE_LENGTH,
    build_vocabulary,
    make_samples,
    save_vocabulary,
)

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "keywords"
TARGET_LAYER = "keyword_detector"
SEED = 42
SAMPLES_PER_SIDE = 20_000
EPOCHS = 4
BATCH_SIZE = 128
UNKNOWN_RATE = 0.05

CARD_TEMPLATE = """\
id = "keywords"
version = "1"
task = "text"
description = "Embedding, Conv1D(k=1), max pooling; trained here on generated texts."
model_file = "model.keras"
labels_file = "labels.txt"
score = "logit"

[sha256]
"model.keras" = "{model_sha}"
"vocab.txt" = "{vocab_sha}"

[text]
vocab_file = "vocab.txt"
tokenizer = "whitespace"
lowercase = true
sequence_length = {sequence_length}
pad_id = {pad_id}
pad_token = "{pad_token}"
padding = "post"
oov_id = {oov_id}
"""


def build_model(vocab_size: int) -> keras.Model:
    """Embedding -> Conv1D(k=1) -> global max pooling -> Dense(4, softmax).

    kernel_size=1 makes every position of `keyword_detector` a function of its own
    token only, so Grad-CAM (the layer the ELI5 text rule picks: the last Conv1D)
    peaks on the keyword itself rather than smearing onto its neighbours.
    Global max pooling makes the prediction independent of length, position and
    padding side: one strong detector response decides the topic.
    """
    token_ids = keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int32", name="token_ids")
    embedded = keras.layers.Embedding(vocab_size, 32, name="token_embedding")(token_ids)
    detected = keras.layers.Conv1D(32, kernel_size=1, activation="relu", name=TARGET_LAYER)(
        embedded
    )
    pooled = keras.layers.GlobalMaxPooling1D(name="strongest_evidence")(detected)
    topic = keras.layers.Dense(len(LABELS), activation="softmax", name="topic")(pooled)
    return keras.Model(token_ids, topic, name="keywords")


def with_unknown_fillers(ids: np.ndarray, keyword_positions: np.ndarray, seed: int) -> np.ndarray:
    """Replace ~5% of fillers by <unk>: served text is full of out-of-vocabulary words,
    and an untrained <unk> embedding could fire the detectors at random."""
    rng = np.random.default_rng(seed)
    replace = (rng.random(ids.shape) < UNKNOWN_RATE) & (ids != PAD_ID)
    replace[np.arange(len(ids)), keyword_positions] = False
    return np.where(replace, OOV_ID, ids).astype(np.int32)


def training_set(
    vocab: list[str], keywords: dict[str, list[str]], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Both padding sides mixed and shuffled, so one model serves either."""
    parts = [
        make_samples(SAMPLES_PER_SIDE, seed + offset, side, vocab, keywords)
        for offset, side in enumerate(("post", "pre"))
    ]
    ids, labels, keyword_positions = (np.concatenate([p[i] for p in parts]) for i in range(3))
    ids = with_unknown_fillers(ids, keyword_positions, seed + 10)
    order = np.random.default_rng(seed).permutation(len(ids))
    return ids[order], labels[order]


def train(vocab: list[str], keywords: dict[str, list[str]], seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    ids, labels = training_set(vocab, keywords, seed)
    model = build_model(len(vocab))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(ids, labels, epochs=EPOCHS, batch_size=BATCH_SIZE, shuffle=True, verbose=2)
    return model


def save_model(model: keras.Model, path: Path, vocab_size: int) -> None:
    save_for_serving(model, build_model(vocab_size), path)


def write_card(model_dir: Path) -> None:
    card = CARD_TEMPLATE.format(
        model_sha=file_sha256(model_dir / "model.keras"),
        vocab_sha=file_sha256(model_dir / "vocab.txt"),
        sequence_length=SEQUENCE_LENGTH,
        pad_id=PAD_ID,
        pad_token=PAD_TOKEN,
        oov_id=OOV_ID,
    )
    (model_dir / "model.toml").write_text(card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    started = time.perf_counter()
    vocab, keywords = build_vocabulary()
    model = train(vocab, keywords, args.seed)
    save_vocabulary(args.out, vocab, keywords)
    save_model(model, args.out / "model.keras", len(vocab))
    write_card(args.out)
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
