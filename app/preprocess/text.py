"""Text to tokens and vocabulary ids, padded to the model's sequence length."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property

from app.errors import InvalidInput, ModelError
from app.preprocess.keras_tokenizer import KerasTokenizer
from app.preprocess.word_filter import Range, keras_word_chars, keras_words

TOKENIZERS = ("whitespace", "char", "keras")
PADDING_SIDES = ("post", "pre")
TRUNCATING_SIDES = ("post", "pre", None)  # None: a longer sequence is refused
WORD = re.compile(r"\S+")  # the same whitespace as str.split()


@dataclass(frozen=True)
class TextSpec:
    """How a text model reads its input; `vocab[i]` is the token with id i."""

    vocab: tuple[str, ...]
    tokenizer: str  # "whitespace" | "char" | "keras" (then `keras` holds its rules)
    lowercase: bool
    sequence_length: int | None  # None: the model takes any length, no padding
    pad_id: int
    pad_token: str
    padding: str  # "post" | "pre": the side padding goes on
    oov_id: int  # id of tokens missing from the vocabulary (unused by a keras tokenizer)
    keras: KerasTokenizer | None = None
    filters: str | None = None  # Keras' word filter first (these characters), or None
    truncating: str | None = None  # "post" | "pre": the side cut off a longer sequence

    def __post_init__(self) -> None:
        # A bad spec is a model card error, found at start-up.
        if (self.tokenizer == "keras") != (self.keras is not None):
            raise ModelError("the keras tokenizer comes with its Tokenizer rules, and only it")
        if not self.vocab:
            raise ModelError("the vocabulary is empty")
        if self.tokenizer not in TOKENIZERS:
            raise ModelError(f"tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}")
        if self.padding not in PADDING_SIDES:
            raise ModelError(f"padding must be one of {PADDING_SIDES}, got {self.padding!r}")
        if self.truncating not in TRUNCATING_SIDES:
            raise ModelError(f"truncating must be post, pre or None, got {self.truncating!r}")
        if self.filters is not None and self.keras is not None:
            raise ModelError("a keras tokenizer filters words by its own rules")
        if self.sequence_length is not None and self.sequence_length < 1:
            raise ModelError(f"sequence_length must be at least 1, got {self.sequence_length}")
        for name, token_id in (("pad_id", self.pad_id), ("oov_id", self.oov_id)):
            if not 0 <= token_id < len(self.vocab):
                raise ModelError(
                    f"{name} {token_id} is outside the vocabulary [0, {len(self.vocab)})"
                )

    @cached_property
    def token_index(self) -> dict[str, int]:
        """Token -> id; a token listed twice keeps its first line."""
        index: dict[str, int] = {}
        for token_id, token in enumerate(self.vocab):
            index.setdefault(token, token_id)
        return index


def tokenize(text: str, spec: TextSpec) -> list[str]:
    """Split `text` on whitespace or into characters, lowercased when the spec says so."""
    if spec.lowercase:
        text = text.lower()
    return text.split() if spec.tokenizer == "whitespace" else list(text)


@dataclass(frozen=True)
class TokenSequence:
    """A text's tokens and ids; `ranges` (word-filtered specs only) holds each token's
    `[start, end)` in the text as sent, so spans can be drawn on that text."""

    tokens: list[str]
    ids: list[int]
    ranges: list[Range] | None = None

    def truncated(self, spec: TextSpec) -> TokenSequence:
        """Cut to the spec's sequence length on its truncating side (as pad_sequences)."""
        length = spec.sequence_length
        if spec.truncating is None or length is None or len(self.tokens) <= length:
            return self
        keep = slice(0, length) if spec.truncating == "post" else slice(-length, None)
        ranges = None if self.ranges is None else self.ranges[keep]
        return TokenSequence(self.tokens[keep], self.ids[keep], ranges)


def text_to_ids(text: str, spec: TextSpec) -> tuple[list[str], list[int]]:
    """(tokens, ids) of a text; a Keras tokenizer may drop words, and their tokens with them."""
    sequence = text_sequence(text, spec)
    return sequence.tokens, sequence.ids


def text_sequence(text: str, spec: TextSpec) -> TokenSequence:
    """The tokens and ids of a text, with source ranges when the spec filters words."""
    if spec.keras is not None:
        return TokenSequence(*spec.keras.text_sequence(text))
    if spec.filters is not None:
        split = keras_word_chars if spec.tokenizer == "char" else keras_words
        filtered = split(text, spec.filters, spec.lowercase)
        return TokenSequence(filtered.tokens, token_ids(filtered.tokens, spec), filtered.ranges)
    tokens = tokenize(text, spec)
    return TokenSequence(tokens, token_ids(tokens, spec))


def tokens_to_ids(tokens: list[str], spec: TextSpec) -> tuple[list[str], list[int]]:
    """(tokens, ids) of a client's token list, looked up as the model's tokenizer does."""
    if spec.keras is not None:
        return spec.keras.tokens_sequence(tokens)
    return tokens, token_ids(tokens, spec)


def ids_to_tokens(ids: list[int], spec: TextSpec) -> list[str]:
    """The vocabulary's token of each id; an id outside it is a 422."""
    check_ids(ids, spec)
    return [spec.vocab[token_id] for token_id in ids]


def word_count(text: str, stop_at: int) -> int:
    """Whitespace-separated words in `text`, counted no further than `stop_at`.

    The whitespace and char tokenizers give at least one token per word, so this bounds
    their tokens from below, cheaply even for a huge text: nothing is split or copied.
    (A Keras tokenizer or word filter may drop words: for them it caps the words sent.)
    """
    return sum(1 for _ in itertools.islice(WORD.finditer(text), stop_at))


def token_ids(tokens: list[str], spec: TextSpec) -> list[int]:
    """Vocabulary ids of `tokens`; unknown tokens get the spec's OOV id."""
    index = spec.token_index
    if spec.lowercase:
        return [index.get(token.lower(), spec.oov_id) for token in tokens]
    return [index.get(token, spec.oov_id) for token in tokens]


def check_ids(ids: list[int], spec: TextSpec) -> None:
    """Refuse ids that are not in the vocabulary, naming the first few."""
    size = len(spec.vocab)
    bad = [
        (position, token_id) for position, token_id in enumerate(ids) if not 0 <= token_id < size
    ]
    if bad:
        shown = ", ".join(f"{token_id} at position {position}" for position, token_id in bad[:5])
        raise InvalidInput(f"token ids must be in [0, {size}); got {shown}")


def pad_sequence(
    tokens: list[str], ids: list[int], spec: TextSpec, padding: str
) -> tuple[list[str], list[int]]:
    """Pad tokens and ids to the spec's sequence length on the `padding` side."""
    if not tokens:
        raise InvalidInput("the text has no tokens")
    if len(tokens) != len(ids):
        raise InvalidInput(f"{len(tokens)} tokens but {len(ids)} token ids")
    if padding not in PADDING_SIDES:
        raise InvalidInput(f"padding must be 'post' or 'pre', got {padding!r}")
    length = spec.sequence_length
    if length is None:
        return tokens, ids
    if len(tokens) > length:
        raise InvalidInput(f"text has {len(tokens)} tokens; model takes at most {length}")
    missing = length - len(tokens)
    pad_tokens, pad_ids = [spec.pad_token] * missing, [spec.pad_id] * missing
    if padding == "post":
        return tokens + pad_tokens, ids + pad_ids
    return pad_tokens + tokens, pad_ids + ids
