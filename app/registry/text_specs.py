"""A text model's input spec from its card: a vocabulary file or a Keras Tokenizer."""

from __future__ import annotations

import csv
from pathlib import Path

from app.errors import ModelError
from app.preprocess.keras_tokenizer import read_keras_tokenizer
from app.preprocess.text import TextSpec
from app.preprocess.word_filter import KERAS_FILTERS
from app.registry.card import ModelCard, TextConfig
from app.registry.files import card_file, read_entries


def text_spec(models_dir: Path, card: ModelCard) -> TextSpec:
    assert card.text is not None
    config = card.text
    if config.tokenizer_file is not None:
        return keras_text_spec(models_dir, card, config.tokenizer_file)
    assert config.vocab_file is not None  # the card validator wants one of the two
    vocab = read_card_entries(models_dir, card, config.vocab_file)
    return TextSpec(
        vocab=vocab,
        tokenizer=config.tokenizer,
        lowercase=config.lowercase,
        sequence_length=config.sequence_length,
        pad_id=config.pad_id,
        pad_token=config.pad_token,
        padding=config.padding,
        oov_id=config.oov_id,
        filters=word_filters(config),
        truncating=config.truncating,
    )


def word_filters(config: TextConfig) -> str | None:
    """The characters Keras' word filter turns into spaces, or None without the filter."""
    if config.word_filter == "none":
        return None
    return KERAS_FILTERS if config.filters is None else config.filters


def read_card_entries(models_dir: Path, card: ModelCard, relative: str) -> tuple[str, ...]:
    """Labels or vocabulary a card names; a file that cannot be read is this model's error."""
    path = card_file(models_dir, card, relative)
    try:
        return read_entries(path)
    except (ModelError, OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ModelError(f"model {card.id}: {relative}: {exc}") from exc


def keras_text_spec(models_dir: Path, card: ModelCard, tokenizer_file: str) -> TextSpec:
    """A Keras Tokenizer's words and rules; id 0 is Keras' padding."""
    assert card.text is not None
    path = card_file(models_dir, card, tokenizer_file)
    try:
        tokenizer = read_keras_tokenizer(path.read_text(encoding="utf-8"))
        vocab = tokenizer.vocabulary(card.text.pad_token)
    except (ModelError, OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"model {card.id}: {tokenizer_file}: {exc}") from exc
    return TextSpec(
        vocab=vocab,
        tokenizer="keras",
        lowercase=tokenizer.lower,
        sequence_length=card.text.sequence_length,
        pad_id=card.text.pad_id,
        pad_token=card.text.pad_token,
        padding=card.text.padding,
        oov_id=tokenizer.oov_index or 0,
        keras=tokenizer,
        truncating=card.text.truncating,
    )
