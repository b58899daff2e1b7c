"""The folder watcher: polls the models folder and tells the registry what changed.

Every `poll_seconds` (TF Serving's `file_system_poll_wait_seconds`) it scans the folder
and, per model:
- loads each version the policy wants that is not loaded, once its files have been
  unchanged since the previous poll (never a folder still being copied), and warms it
  up beside the serving one, off the event loop;
- then serves the highest loaded version the policy wants (one assignment: requests
  already running keep the version they resolved) and withdraws the others;
- keeps the serving version while no wanted version has loaded: a failed or half-copied
  newer version, or a removed serving folder whose successor is not ready yet, never
  leaves the model without a version;
- remembers a failed version with its fingerprint and tries it again only when its
  files change; a loaded version is never reloaded (publish a new number instead);
- reports a card that cannot be read any more (bad TOML, a bad field) on the model,
  whose loaded versions keep serving with the card they were loaded with.
A removed model folder is withdrawn; a new one is loaded like a new version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from app.errors import ModelError
from app.registry.policy import VersionPolicy
from app.registry.registry import Registry, load_version, wanted_versions
from app.registry.served import ServedModel
from app.registry.versions.model_versions import version_order
from app.registry.versions.repository import Fingerprint, ModelSource, VersionSource, scan_models

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (model id, version)
Loader = Callable[[Path, ModelSource, VersionSource, str | None], ServedModel]


class FolderWatcher:
    def __init__(
        self,
        registry: Registry,
        models_dir: Path,
        *,
        policy: VersionPolicy | None = None,
        device: str | None = None,
        warm_up: bool = True,
        loader: Loader = load_version,
    ) -> None:
        self.registry = registry
        self.models_dir = models_dir
        self.policy = policy
        self.device = device
        self.warm_up = warm_up
        self.loader = loader
        self._seen: dict[Key, Fingerprint | None] = {}  # as at the previous poll
        self._failed: dict[Key, Fingerprint | None] = {}  # as when it failed to load

    async def run(self, poll_seconds: float) -> None:
        """Poll forever (until cancelled); one poll's failure never stops the next."""
        while True:
            await asyncio.sleep(poll_seconds)
            try:
                await self.poll()
            except Exception:  # a bug here must not stop serving
                log.exception("polling %s failed", self.models_dir)

    async def poll(self) -> None:
        try:
            sources = await asyncio.to_thread(scan_models, self.models_dir)
        except (ModelError, OSError) as exc:  # the folder is away: keep what is served
            log.warning("cannot scan the models folder: %s", exc)
            return
        for model_id in (set(self.registry.entries) | set(self.registry.failures)) - set(sources):
            log.info("model %s: its folder is gone, withdrawn", model_id)
            self.registry.remove_model(model_id)
        for source in sources.values():
            await self._sync(source)
        self._seen = {
            (source.id, v.version): v.fingerprint
            for source in sources.values()
            for v in source.versions.values()
        }
        # A failed version whose folder is gone is forgotten: weeks of publishing must
        # not grow what the watcher remembers.
        self._failed = {key: f for key, f in self._failed.items() if key in self._seen}

    async def _sync(self, source: ModelSource) -> None:
        if source.card is None:
            if source.id in self.registry.entries:
                self._report_card(source.id, source.error or "no card")
            else:
                self.registry.failures[source.id] = source.error or "no card"
            return
        self._report_card(source.id, "")
        wanted = wanted_versions(source, self.policy)
        for version in wanted:
            if self._should_load(source, version):
                await self._load(source, version)
        self._settle(source.id, [version.version for version in wanted])

    def _report_card(self, model_id: str, error: str) -> None:
        """Logged once per change, not on every poll."""
        entry = self.registry.entries.get(model_id)
        if entry is None or entry.card_error == error:
            return
        if error:
            log.warning("model %s: card unreadable, its loaded card serves on: %s", model_id, error)
        else:
            log.info("model %s: its card reads again", model_id)
        self.registry.report_card(model_id, error)

    def _should_load(self, source: ModelSource, version: VersionSource) -> bool:
        key = (source.id, version.version)
        entry = self.registry.entries.get(source.id)
        if entry is not None and version.version in entry.loaded:
            return False
        stable = version.fingerprint is not None and self._seen.get(key) == version.fingerprint
        if not stable:
            return False
        return key not in self._failed or self._failed[key] != version.fingerprint

    async def _load(self, source: ModelSource, version: VersionSource) -> None:
        key = (source.id, version.version)
        self.registry.begin_loading(source.id, version.version)
        try:
            served = await asyncio.to_thread(self._load_and_warm, source, version)
        except Exception as exc:  # a bad file raises many kinds; none may stop the watcher
            log.warning("model %s version %s failed to load: %s", *key, exc)
            self.registry.fail(source.id, version.version, str(exc))
            self._failed[key] = version.fingerprint
            return
        self._failed.pop(key, None)
        self.registry.add(served)
        log.info("model %s version %s loaded in %.1f s", *key, served.load_seconds)

    def _load_and_warm(self, source: ModelSource, version: VersionSource) -> ServedModel:
        served = self.loader(self.models_dir, source, version, self.device)
        if self.warm_up:
            served.warm_up()
        else:
            served.ready = True
        return served

    def _settle(self, model_id: str, wanted: list[str]) -> None:
        """Serve the highest wanted version loaded; withdraw what is not wanted, but
        never the serving version before a wanted one replaces it."""
        entry = self.registry.entries.get(model_id)
        if entry is None:
            return
        available = [version for version in wanted if version in entry.loaded]
        if available:
            self.registry.serve(model_id, max(available, key=version_order))
        keep = set(wanted)
        if entry.serving is not None and wanted:  # its successor is not loaded yet
            keep.add(entry.serving.card.version)
        for version in set(entry.loaded) - keep:
            log.info("model %s version %s withdrawn", model_id, version)
            self.registry.withdraw(model_id, version)
        for version in set(entry.errors) - set(wanted):
            del entry.errors[version]  # a failed version no longer wanted is forgotten
