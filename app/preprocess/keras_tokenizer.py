"""A Keras `Tokenizer` read from its `to_json()` file, applied as Keras 2 applies it.

`texts_to_sequences` in Keras 2 (keras_preprocessing / tf_keras): lowercase when `lower`;
characters in `filters` become `split`; split on `split` and drop empty words (or take
every character when `char_level`, with no filtering); look each word up in `word_index`.
A word missing from it, or whose index is `num_words` or more, becomes the `oov_token`'s
index when there is one and is dropped otherwise. Token lists are looked up the same way,
lowercased when `lower`. Id 0 is never a word: Keras keeps it for padding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.errors import ModelError


@dataclass(frozen=True)
class KerasTokenizer:
    word_index: dict[str, int]
    lower: bool
    filters: str
    split: str
    char_level: bool
    num_words: int | None
    oov_index: int | None  # word_index[oov_token], or None without an oov_token
    index_word: dict[int, str]  # the Tokenizer's own, for ids that word_index lost

    def words(self, text: str) -> list[str]:
        """Keras 2's `text_to_word_sequence` (or the characters when `char_level`)."""
        if self.lower:
            text = text.lower()
        if self.char_level:
            return list(text)
        table: dict[str, str | int | None] = dict.fromkeys(self.filters, self.split)
        text = text.translate(str.maketrans(table))
        return [word for word in text.split(self.split) if word]

    def text_sequence(self, text: str) -> tuple[list[str], list[int]]:
        """(kept words, their ids) of a text: `texts_to_sequences([text])` word by word."""
        words = self.words(text)
        return self.sequence(words, words)

    def tokens_sequence(self, tokens: list[str]) -> tuple[list[str], list[int]]:
        """(kept tokens, their ids) of a token list, as Keras 2 takes a list of words."""
        keys = [token.lower() for token in tokens] if self.lower else tokens
        return self.sequence(tokens, keys)

    def sequence(self, words: list[str], keys: list[str]) -> tuple[list[str], list[int]]:
        kept: list[str] = []
        ids: list[int] = []
        for word, key in zip(words, keys, strict=True):
            token_id = self.word_index.get(key)
            if token_id is not None and self.num_words and token_id >= self.num_words:
                token_id = None
            token_id = self.oov_index if token_id is None else token_id
            if token_id is not None:
                kept.append(word)
                ids.append(token_id)
        return kept, ids

    def vocabulary(self, pad_token: str) -> tuple[str, ...]:
        """The word of every id the tokenizer can give (0: padding)."""
        top = max(self.word_index.values(), default=0)
        if self.num_words:
            top = min(top, self.num_words - 1)
        by_id = {**self.index_word, **{index: word for word, index in self.word_index.items()}}
        missing = [index for index in range(1, top + 1) if index not in by_id]
        if missing:
            raise ModelError(f"the tokenizer's word_index has no word for ids {missing[:5]}")
        return (pad_token, *(by_id[index] for index in range(1, top + 1)))


def read_keras_tokenizer(text: str) -> KerasTokenizer:
    """Parse `tokenizer.to_json()` output; a bad file is a ModelError naming the problem."""
    try:
        document = json.loads(text)
        config = document["config"]
        word_index = json.loads(config["word_index"])  # Keras nests it as a JSON string
        index_word = json.loads(config.get("index_word") or "{}")
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"not a Keras Tokenizer JSON (tokenizer.to_json()): {exc}") from exc
    if document.get("class_name") != "Tokenizer":
        raise ModelError(f"class_name is {document.get('class_name')!r}, not 'Tokenizer'")
    return tokenizer_from_config(config, word_index, index_word)


def tokenizer_from_config(
    config: dict[str, Any], word_index: object, index_word: object
) -> KerasTokenizer:
    if not isinstance(word_index, dict) or not all(
        isinstance(index, int) and index > 0 for index in word_index.values()
    ):
        raise ModelError("the tokenizer's word_index must map words to ids from 1 up")
    split = config.get("split", " ")
    if not isinstance(split, str) or not split:
        raise ModelError(f"the tokenizer's split must be a non-empty string, got {split!r}")
    oov_token = config.get("oov_token")
    oov_index = None if oov_token is None else word_index.get(oov_token)
    if oov_token is not None and oov_index is None:
        raise ModelError(f"the tokenizer's oov_token {oov_token!r} is not in its word_index")
    num_words = config.get("num_words")
    if num_words is not None and (not isinstance(num_words, int) or num_words < 0):
        raise ModelError(f"the tokenizer's num_words must be a count, got {num_words!r}")
    return KerasTokenizer(
        word_index=word_index,
        lower=bool(config.get("lower", True)),
        filters=str(config.get("filters") or ""),
        split=split,
        char_level=bool(config.get("char_level", False)),
        num_words=num_words,
        oov_index=oov_index,
        index_word=parse_index_word(index_word),
    )


def parse_index_word(index_word: object) -> dict[int, str]:
    if not isinstance(index_word, dict):
        raise ModelError("the tokenizer's index_word is not a JSON object")
    try:
        return {int(index): str(word) for index, word in index_word.items()}
    except ValueError as exc:
        raise ModelError(f"the tokenizer's index_word has a key that is not an id: {exc}") from exc
