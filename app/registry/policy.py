"""Which versions of a model stay loaded: TF Serving's `model_version_policy`, as text.

`latest` (the highest version), `latest:N` (the N highest), `all`, or `specific:1,3`
(the listed ones present on disk). Set for every model by `GRADCAM_MODEL_VERSION_POLICY`,
per model by the card's `version_policy`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

POLICY = re.compile(r"^(?:(latest)(?::(\d{1,4}))?|(all)|specific:(\d{1,18}(?:,\d{1,18})*))$")


@dataclass(frozen=True)
class VersionPolicy:
    kind: str  # latest, all or specific
    count: int = 1  # latest: how many
    listed: frozenset[int] = frozenset()  # specific: which

    def choose(self, versions: Iterable[int]) -> list[int]:
        """The versions to keep loaded, highest first."""
        ordered = sorted(set(versions), reverse=True)
        if self.kind == "latest":
            return ordered[: self.count]
        if self.kind == "specific":
            return [version for version in ordered if version in self.listed]
        return ordered

    def __str__(self) -> str:
        if self.kind == "specific":
            return "specific:" + ",".join(map(str, sorted(self.listed)))
        return f"latest:{self.count}" if self.kind == "latest" else self.kind


def parse_policy(text: str) -> VersionPolicy:
    """`latest`, `latest:N` (N >= 1), `all` or `specific:V1,V2`; a ValueError otherwise."""
    match = POLICY.match(text.strip())
    if match is None:
        raise ValueError(f"version policy {text!r} is not latest, latest:N, all or specific:V,...")
    latest, count, every, listed = match.groups()
    if latest:
        number = int(count or 1)
        if number < 1:
            raise ValueError("latest:N keeps at least one version (N >= 1)")
        return VersionPolicy("latest", number)
    if every:
        return VersionPolicy("all")
    return VersionPolicy("specific", listed=frozenset(int(v) for v in listed.split(",")))
