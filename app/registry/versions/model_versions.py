"""One model id's versions: those loaded, the one serving, and those that failed.

Only touched on the event loop (the watcher's task and the routes), so replacing
`serving` is atomic for every request: one that resolved the old version keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.errors import ModelNotFound, ModelNotReady
from app.registry.served import ServedModel


@dataclass(frozen=True)
class VersionState:
    """TF Serving's `model_version_status` entry of one version."""

    version: str
    state: Literal["LOADING", "AVAILABLE", "END"]  # END: failed to load
    error: str = ""
    serving: bool = False


@dataclass
class ModelVersions:
    id: str
    loaded: dict[str, ServedModel] = field(default_factory=dict)
    serving: ServedModel | None = None
    errors: dict[str, str] = field(default_factory=dict)  # version -> why it did not load
    loading: set[str] = field(default_factory=set)
    # Why the card on disk cannot be read now ("" when it can): the versions loaded keep
    # the card they were loaded with, and no new version loads until it reads again.
    card_error: str = ""

    def get(self, version: str | None = None) -> ServedModel:
        """The serving version (None), or the one named: 404 unknown, 503 failed."""
        if version is None:
            if self.serving is None:
                raise ModelNotReady(f"model {self.id} has no version serving{self._why()}")
            return self.serving
        served = self.loaded.get(version)
        if served is not None:
            return served
        if version in self.errors:
            raise ModelNotReady(
                f"model {self.id} version {version} is not available: {self.errors[version]}"
            )
        if version in self.loading:
            raise ModelNotReady(f"model {self.id} version {version} is still loading")
        loaded = ", ".join(sorted(self.loaded, key=version_order)) or "none"
        raise ModelNotFound(f"model {self.id} has no version {version!r} loaded (loaded: {loaded})")

    def _why(self) -> str:
        if not self.errors:
            return ""
        version = max(self.errors, key=version_order)
        return f": version {version} failed: {self.errors[version]}"

    def states(self) -> list[VersionState]:
        """Every version the service knows of, highest first."""
        states = [
            VersionState(v, "AVAILABLE", serving=served is self.serving)
            for v, served in self.loaded.items()
        ]
        states += [VersionState(v, "LOADING") for v in self.loading - set(self.loaded)]
        states += [
            VersionState(v, "END", error=error)
            for v, error in self.errors.items()
            if v not in self.loaded and v not in self.loading
        ]
        return sorted(states, key=lambda s: version_order(s.version), reverse=True)


def version_order(version: str) -> tuple[int, str]:
    """Numeric versions by number; a flat card's free-text version after them."""
    return (int(version), "") if version.isdigit() else (-1, version)
