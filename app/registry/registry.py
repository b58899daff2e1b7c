"""The registry: model id -> its versions (the serving one swapped atomically).

Built once from the models directory at start-up (`load_registry`); afterwards the folder
watcher (app.registry.watcher) adds, serves and withdraws versions through the methods
here. A request holds a lease on the version it resolved; a withdrawn version is
unloaded (`on_unload`) once its last lease ends, so in-flight requests finish on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.engine.runtime.devices import resolve_device
from app.errors import ExplainError, ModelError, ModelNotFound, ModelNotReady
from app.registry.card import ModelCard
from app.registry.formats.loader import image_scaling, load_keras_model, model_path
from app.registry.formats.remote.model import RemoteModel
from app.registry.heads import card_heads, input_size, model_output_shapes
from app.registry.policy import VersionPolicy, parse_policy
from app.registry.served import ServedModel
from app.registry.text_specs import read_card_entries, text_spec
from app.registry.versions.model_versions import ModelVersions, version_order
from app.registry.versions.repository import ModelSource, VersionSource, scan_model, scan_models

log = logging.getLogger(__name__)


@dataclass
class Registry:
    entries: dict[str, ModelVersions] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # id -> why nothing of it serves
    loaded: bool = False
    on_unload: Callable[[ServedModel], None] | None = None  # a withdrawn version, drained
    _leases: dict[int, int] = field(default_factory=dict)  # id(served) -> requests on it
    _withdrawn: dict[int, ServedModel] = field(default_factory=dict)  # still leased

    @classmethod
    def of(cls, *served: ServedModel) -> Registry:
        """A loaded registry serving exactly these models (the CLI's local mode)."""
        registry = cls(loaded=True)
        for model in served:
            registry.add(model)
            registry.serve(model.id, model.card.version)
        return registry

    @property
    def models(self) -> dict[str, ServedModel]:
        """The serving version of each model, by id."""
        return {i: e.serving for i, e in self.entries.items() if e.serving is not None}

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(list(self.models.values()))

    def all_versions(self) -> list[ServedModel]:
        return [served for entry in list(self.entries.values()) for served in entry.loaded.values()]

    def entry(self, model_id: str) -> ModelVersions:
        entry = self.entries.get(model_id)
        if entry is None and model_id in self.failures:
            raise ModelNotReady(f"model {model_id} is not available: {self.failures[model_id]}")
        if entry is None:
            known = ", ".join(sorted(self.entries)) or "none"
            raise ModelNotFound(f"model {model_id!r} is not in the registry (models: {known})")
        return entry

    def get(self, model_id: str, version: str | None = None) -> ServedModel:
        served = self.entry(model_id).get(version)
        if not served.ready:
            raise ModelNotReady(f"model {model_id} is still loading")
        return served

    @contextmanager
    def lease(self, model_id: str, version: str | None = None) -> Iterator[ServedModel]:
        """The version a request runs on, kept loaded until the request ends."""
        served = self.get(model_id, version)
        key = id(served)
        self._leases[key] = self._leases.get(key, 0) + 1
        try:
            yield served
        finally:
            self._leases[key] -= 1
            if self._leases[key] == 0:
                del self._leases[key]
                if key in self._withdrawn:
                    self._unload(self._withdrawn.pop(key))

    def in_flight(self, served: ServedModel) -> int:
        return self._leases.get(id(served), 0)

    @property
    def ready(self) -> bool:
        return self.loaded and all(served.ready for served in self)

    def refresh_remotes(self) -> None:
        """Ask every remote model whether it answers (`/ready`): blocking HTTP calls."""
        for served in self.all_versions():
            if served.remote is not None:
                served.ready = served.remote.refresh_ready()

    def close_remotes(self) -> None:
        """Close the remote models' connections (the service stops)."""
        for served in self.all_versions():
            if served.remote is not None:
                served.remote.client.close()

    def warm_up(self) -> None:
        for served in self.all_versions():
            if not served.ready:
                served.warm_up()

    # The watcher's side: every change is one assignment on the event loop.

    def add(self, served: ServedModel) -> None:
        """A loaded (and warmed) version, reachable by its number; not serving yet."""
        entry = self.entries.setdefault(served.id, ModelVersions(served.id))
        entry.loaded[served.card.version] = served
        entry.errors.pop(served.card.version, None)
        entry.loading.discard(served.card.version)
        self.failures.pop(served.id, None)

    def begin_loading(self, model_id: str, version: str) -> None:
        self.entries.setdefault(model_id, ModelVersions(model_id)).loading.add(version)

    def fail(self, model_id: str, version: str, error: str) -> None:
        """A version that did not load: reported, and the serving one stays."""
        entry = self.entries.setdefault(model_id, ModelVersions(model_id))
        entry.loading.discard(version)
        entry.errors[version] = error
        self.failures.pop(model_id, None)

    def report_card(self, model_id: str, error: str) -> None:
        """The model's card as the last scan read it: why it cannot be read, or ""."""
        entry = self.entries.get(model_id)
        if entry is not None:
            entry.card_error = error

    def serve(self, model_id: str, version: str) -> None:
        """New requests without a version go to `version` from now on."""
        entry = self.entries[model_id]
        entry.serving = entry.loaded[version]

    def withdraw(self, model_id: str, version: str) -> None:
        """Unreachable from now on; unloaded once its in-flight requests end."""
        entry = self.entries[model_id]
        served = entry.loaded.pop(version)
        if entry.serving is served:
            entry.serving = None
        if self.in_flight(served):
            self._withdrawn[id(served)] = served
        else:
            self._unload(served)

    def remove_model(self, model_id: str) -> None:
        entry = self.entries.get(model_id)
        for version in list(entry.loaded if entry else ()):
            self.withdraw(model_id, version)
        self.entries.pop(model_id, None)
        self.failures.pop(model_id, None)

    def _unload(self, served: ServedModel) -> None:
        log.info("model %s version %s unloaded", served.id, served.card.version)
        if served.remote is not None:
            served.remote.client.close()
        if self.on_unload is not None:
            self.on_unload(served)


def load_registry(
    models_dir: Path, *, device: str | None = None, policy: VersionPolicy | None = None
) -> Registry:
    """Load what `policy` (default: latest) keeps of every model folder; the highest
    loaded version serves.

    A required model with no version loaded stops start-up with a message naming it; one
    with `required = false`, or a folder without a usable card, is left out and
    reported as not ready.
    """
    registry = Registry()
    for source in scan_models(models_dir).values():
        if source.card is None:
            log.warning("model %s is not served: %s", source.id, source.error)
            registry.failures[source.id] = source.error or "no card"
            continue
        entry = registry.entries.setdefault(source.id, ModelVersions(source.id))
        for version in wanted_versions(source, policy):
            try:
                registry.add(load_version(models_dir, source, version, device))
            except ModelError as exc:
                log.warning("model %s version %s is not served: %s", source.id, version, exc)
                entry.errors[version.version] = str(exc)
        if entry.loaded:
            registry.serve(source.id, max(entry.loaded, key=version_order))
            continue
        del registry.entries[source.id]
        if source.card.required:
            raise ModelError(next(iter(entry.errors.values()), f"model {source.id}: no version"))
        registry.failures[source.id] = "; ".join(entry.errors.values()) or "no version folder"
    registry.loaded = True
    return registry


def wanted_versions(source: ModelSource, default: VersionPolicy | None) -> list[VersionSource]:
    """The versions to keep loaded by the card's policy, else `default`; highest first."""
    assert source.card is not None
    if not source.versioned:
        return list(source.versions.values())
    policy = default or parse_policy("latest")
    if source.card.version_policy is not None:
        policy = parse_policy(source.card.version_policy)
    numbers = policy.choose(int(v) for v in source.versions)
    return [source.versions[str(number)] for number in numbers]


def load_version(
    models_dir: Path, source: ModelSource, version: VersionSource, device: str | None
) -> ServedModel:
    return load_served_model(models_dir, source.card_for(version), device, version.folder)


def load_served_model(
    models_dir: Path, card: ModelCard, device: str | None, folder: Path | None = None
) -> ServedModel:
    """Load one version: its model from `folder` (default: the model's own folder)."""
    started = time.perf_counter()
    if card.remote is not None:
        return load_remote_model(models_dir, card, device)
    path = model_path(models_dir, card, folder or models_dir / card.id)
    model = load_keras_model(models_dir, card, path)
    labels = read_card_entries(models_dir, card, card.labels_file) if card.labels_file else ()
    served = ServedModel(card=card, model=model, labels=labels, device=resolve_device(device))
    if served.takes_encoded_images:
        pass  # the graph decodes and scales the upload itself
    elif card.image is not None:
        served.scaling = image_scaling(card.image)
    elif card.task == "image":
        raise ModelError(
            f"model {card.id}: an image model needs an [image] section (size, scaling) in "
            f"its model.toml: its input takes {served.input_dtype} tensors, not encoded images"
        )
    if card.text is not None:
        served.text_spec = text_spec(models_dir, card)
    shapes, size = model_output_shapes(model), input_size(model)
    served.heads = card_heads(models_dir, card, shapes, size, labels)
    try:
        served.default_gradcam()  # resolve the default layer now: a bad card fails at start-up
    except ExplainError as exc:
        raise ModelError(f"model {card.id}: default layer: {exc.detail}") from exc
    served.load_seconds = time.perf_counter() - started
    return served


def load_remote_model(models_dir: Path, card: ModelCard, device: str | None) -> ServedModel:
    """A remote endpoint: no weights; ready once it answers (checked now and by /ready)."""
    started = time.perf_counter()
    labels = read_card_entries(models_dir, card, card.labels_file) if card.labels_file else ()
    model = RemoteModel.connect(card)
    # The card as connected: its [image] size read from the remote's metadata when it had none.
    card = model.card
    assert card.image is not None
    served = ServedModel(card=card, model=model, labels=labels, device=resolve_device(device))
    served.scaling = image_scaling(card.image)
    served.ready = model.ready
    served.load_seconds = time.perf_counter() - started
    return served


def load_latest(models_dir: Path, model_id: str, device: str | None) -> ServedModel:
    """The version a fresh start would serve of one model folder (the CLI's local mode)."""
    source = scan_model(models_dir / model_id)
    if source is None or source.card is None:
        why = "no model.toml" if source is None else source.error
        raise ModelNotFound(f"model {model_id!r} cannot be served from {models_dir}: {why}")
    versions = wanted_versions(source, None)
    if not versions:
        raise ModelError(f"model {model_id}: no version folder")
    return load_version(models_dir, source, versions[0], device)
