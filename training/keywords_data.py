"""Vocabulary and synthetic samples for the `keywords` demo text model.

A sample is 6-40 tokens: exactly one keyword of its topic at a random position,
every other token a filler drawn uniformly from the filler words, padded with
id 0 to `SEQUENCE_LENGTH` on the `post` or `pre` side.
"""

import json
from pathlib import Path
from typing import Literal

import numpy as np

LABELS = ("sports", "finance", "weather", "music")
KEYWORDS = {
    "sports": ("goal", "match", "team", "player", "coach", "league", "stadium", "referee"),
    "finance": ("stock", "market", "bank", "profit", "dollar", "shares", "investor", "loan"),
    "weather": ("rain", "storm", "sunny", "forecast", "snow", "cloudy", "wind", "humidity"),
    "music": ("guitar", "song", "concert", "melody", "album", "drum", "piano", "singer"),
}
PAD_TOKEN, PAD_ID = "<pad>", 0
OOV_TOKEN, OOV_ID = "<unk>", 1
SEQUENCE_LENGTH = 48
MIN_TOKENS, MAX_TOKENS = 6, 40
FILLER_COUNT = 480
VOCAB_SEED = 2024

Padding = Literal["post", "pre"]

# Pronounceable syllables make the fillers look like words in a demo UI.
_ONSETS = ("b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "br", "st", "tr")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ea", "io")
_CODAS = ("", "", "", "n", "r", "s", "l", "t", "m")


def _pseudo_word(rng: np.random.Generator) -> str:
    syllables = int(rng.choice((2, 2, 3)))
    return "".join(
        str(rng.choice(_ONSETS)) + str(rng.choice(_VOWELS)) + str(rng.choice(_CODAS))
        for _ in range(syllables)
    )


def _filler_words(count: int, seed: int, reserved: set[str]) -> list[str]:
    rng = np.random.default_rng(seed)
    words: dict[str, None] = {}  # insertion-ordered set keeps the result deterministic
    while len(words) < count:
        word = _pseudo_word(rng)
        if word not in reserved:
            words[word] = None
    return list(words)


def build_vocabulary(seed: int = VOCAB_SEED) -> tuple[list[str], dict[str, list[str]]]:
    """Return (vocab, keywords): pad, unk, `FILLER_COUNT` fillers, then 8 keywords per label."""
    keywords = {label: list(KEYWORDS[label]) for label in LABELS}
    reserved = {word for words in keywords.values() for word in words}
    fillers = _filler_words(FILLER_COUNT, seed, reserved)
    vocab = [PAD_TOKEN, OOV_TOKEN, *fillers, *(w for label in LABELS for w in keywords[label])]
    return vocab, keywords


def save_vocabulary(models_dir: Path, vocab: list[str], keywords: dict[str, list[str]]) -> None:
    """Write vocab.txt, keywords.json and labels.txt into `models_dir`."""
    models_dir.mkdir(parents=True, exist_ok=True)
    (models_dir / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (models_dir / "keywords.json").write_text(json.dumps(keywords, indent=2) + "\n")
    (models_dir / "labels.txt").write_text("\n".join(LABELS) + "\n")


def load_vocabulary(models_dir: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Read the committed vocab.txt and keywords.json (the source of truth)."""
    vocab = (models_dir / "vocab.txt").read_text().splitlines()
    keywords = json.loads((models_dir / "keywords.json").read_text())
    return vocab, {label: keywords[label] for label in LABELS}


def filler_ids(vocab: list[str], keywords: dict[str, list[str]]) -> np.ndarray:
    """Ids of every token that is neither pad, unk nor a keyword."""
    special = {PAD_TOKEN, OOV_TOKEN} | {w for words in keywords.values() for w in words}
    return np.array([i for i, token in enumerate(vocab) if token not in special], dtype=np.int32)


def keyword_ids(vocab: list[str], keywords: dict[str, list[str]]) -> np.ndarray:
    """Keyword ids as a (n_labels, n_keywords) array, rows in `LABELS` order."""
    index = {token: i for i, token in enumerate(vocab)}
    return np.array([[index[w] for w in keywords[label]] for label in LABELS], dtype=np.int32)


def make_samples(
    n: int,
    seed: int,
    padding: Padding,
    vocab: list[str],
    keywords: dict[str, list[str]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (ids (n, 48) int32, labels (n,), keyword_positions (n,), lengths (n,)).

    `keyword_positions` index into the padded sequence, so they account for `pre` padding.
    """
    if padding not in ("post", "pre"):
        raise ValueError(f"padding must be 'post' or 'pre', got {padding!r}")
    rng = np.random.default_rng(seed)
    fillers, topic_keywords = filler_ids(vocab, keywords), keyword_ids(vocab, keywords)
    labels = rng.integers(0, len(LABELS), size=n)
    lengths = rng.integers(MIN_TOKENS, MAX_TOKENS + 1, size=n)
    offsets = rng.integers(0, lengths)  # keyword index within the unpadded tokens
    tokens = rng.choice(fillers, size=(n, SEQUENCE_LENGTH))
    chosen = topic_keywords[labels, rng.integers(0, topic_keywords.shape[1], size=n)]
    tokens[np.arange(n), offsets] = chosen
    ids = np.full((n, SEQUENCE_LENGTH), PAD_ID, dtype=np.int32)
    starts = SEQUENCE_LENGTH - lengths if padding == "pre" else np.zeros(n, dtype=np.int64)
    for row, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        ids[row, start : start + length] = tokens[row, :length]
    return (
        ids,
        labels.astype(np.int32),
        (starts + offsets).astype(np.int32),
        lengths.astype(np.int32),
    )
