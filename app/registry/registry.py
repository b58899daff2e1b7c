"""The registry: model id -> served model, built once from the models directory."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.engine.devices import resolve_device
from app.errors import ExplainError, ModelError, ModelNotFound, ModelNotReady
from app.preprocess.keras_tokenizer import read_keras_tokenizer
from app.preprocess.text import TextSpec
from app.registry.card import CARD_FILE, ModelCard, read_card
from app.registry.files import card_file, read_lines
from app.registry.loader import image_scaling, load_keras_model
from app.registry.served import ServedModel

log = logging.getLogger(__name__)


@dataclass
class Registry:
    models: dict[str, ServedModel] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # id -> why it is not served
    loaded: bool = False

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(self.models.values())

    def get(self, model_id: str) -> ServedModel:
        served = self.models.get(model_id)
        if served is None and model_id in self.failures:
            raise ModelNotReady(f"model {model_id} is not available: {self.failures[model_id]}")
        if served is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise ModelNotFound(f"model {model_id!r} is not in the registry (models: {known})")
        if not served.ready:
            raise ModelNotReady(f"model {model_id} is still loading")
        return served

    @property
    def ready(self) -> bool:
        return self.loaded and all(served.ready for served in self)

    def warm_up(self) -> None:
        for served in self:
            served.warm_up()


def load_registry(models_dir: Path, *, device: str | None = None) -> Registry:
    """Read every `models/<id>/model.toml` and load its model.

    A required model that fails stops start-up with a message naming it; one with
    `required = false` is left out and reported as not ready.
    """
    if not models_dir.is_dir():
        raise ModelError(f"models directory {models_dir} does not exist")
    registry = Registry()
    for folder in sorted(p for p in models_dir.iterdir() if (p / CARD_FILE).is_file()):
        card = read_card(folder)
        try:
            registry.models[card.id] = load_served_model(models_dir, card, device)
        except ModelError as exc:
            if card.required:
                raise
            log.warning("model %s is not served: %s", card.id, exc)
            registry.failures[card.id] = str(exc)
    registry.loaded = True
    return registry


def load_served_model(models_dir: Path, card: ModelCard, device: str | None) -> ServedModel:
    started = time.perf_counter()
    model = load_keras_model(models_dir, card)
    labels = read_lines(card_file(models_dir, card, card.labels_file)) if card.labels_file else ()
    served = ServedModel(card=card, model=model, labels=labels, device=resolve_device(device))
    if served.takes_encoded_images:
        pass  # the graph decodes and scales the upload itself
    elif card.image is not None:
        served.scaling = image_scaling(card.image)
    elif card.task == "image":
        raise ModelError(f"model {card.id}: an image model needs an [image] section")
    if card.text is not None:
        served.text_spec = text_spec(models_dir, card)
    try:
        served.default_gradcam()  # resolve the default layer now: a bad card fails at start-up
    except ExplainError as exc:
        raise ModelError(f"model {card.id}: default layer: {exc.detail}") from exc
    served.load_seconds = time.perf_counter() - started
    return served


def text_spec(models_dir: Path, card: ModelCard) -> TextSpec:
    assert card.text is not None
    config = card.text
    if config.tokenizer_file is not None:
        return keras_text_spec(models_dir, card, config.tokenizer_file)
    assert config.vocab_file is not None  # the card validator wants one of the two
    vocab = read_lines(card_file(models_dir, card, config.vocab_file))
    return TextSpec(
        vocab=vocab,
        tokenizer=config.tokenizer,
        lowercase=config.lowercase,
        sequence_length=config.sequence_length,
        pad_id=config.pad_id,
        pad_token=config.pad_token,
        padding=config.padding,
        oov_id=config.oov_id,
    )


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
    )
