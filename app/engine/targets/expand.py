"""Expanding per-request targets into one row per (sample, target) map."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.engine.targets.heads import Head
from app.engine.targets.rows import Target, TargetRows
from app.errors import InvalidInput, TargetNotTaken

# Sentinel row target: "the sample's top prediction", resolved inside the compiled step.
TOP_PREDICTION = -1
TOP_ONLY: Sequence[int] = (TOP_PREDICTION,)

# None (top prediction for all), one list for every sample, or per sample a list or None;
# an item is a class index or a `Target` (a region, a box).
Item = int | Target
Targets = Sequence[Item] | Sequence[Sequence[Item] | None] | None


def expand_targets(
    n_samples: int, targets: Targets, n_classes: int, model_name: str = "this model"
) -> tuple[np.ndarray, np.ndarray]:
    """Rows to compute: `(sample index (N,), target (N,))`, both int32.

    `targets` is None (each sample's top prediction), a list of class indices used for
    every sample, or one entry per sample: a list, or None for its top prediction.
    """
    if targets is None:
        sample = np.arange(n_samples, dtype=np.int32)
        return sample, np.full(n_samples, TOP_PREDICTION, dtype=np.int32)
    per_sample = per_sample_targets(n_samples, targets)
    for sample_targets in per_sample:
        if sample_targets is not TOP_ONLY:
            check_targets(sample_targets, n_classes, model_name)
    counts = [len(t) for t in per_sample]
    sample = np.repeat(np.arange(n_samples, dtype=np.int32), counts)
    flat = np.array([t for ts in per_sample for t in ts], dtype=np.int32)
    return sample, flat


def per_sample_targets(n_samples: int, targets: Sequence[object]) -> list[Sequence[object]]:
    if len(targets) > 0 and all(t is None or is_sequence(t) for t in targets):
        if len(targets) != n_samples:
            raise InvalidInput(
                f"got target lists for {len(targets)} samples but there are {n_samples} samples"
            )
        return [TOP_ONLY if t is None else list(t) for t in targets]  # type: ignore[call-overload]
    return [list(targets)] * n_samples


def sample_lists(n_samples: int, targets: Targets) -> list[Sequence[Item] | None]:
    """One target list per sample, None where the sample takes its defaults."""
    if targets is None:
        return [None] * n_samples
    per_sample = per_sample_targets(n_samples, targets)
    given = len(targets) > 0 and all(t is None or is_sequence(t) for t in targets)
    return [
        None if given and targets[n] is None else list(per_sample[n])  # type: ignore[arg-type]
        for n in range(n_samples)
    ]


def check_targets(targets: Sequence[object], n_classes: int, model_name: str) -> None:
    if len(targets) == 0:
        raise InvalidInput("targets must not be empty; omit them to explain the top prediction")
    for target in targets:
        if isinstance(target, bool) or not isinstance(target, int | np.integer):
            raise InvalidInput(f"target {target!r} is not an integer class index")
        if not 0 <= target < n_classes:
            raise InvalidInput(
                f"target {target} is out of range [0, {n_classes}) for model {model_name}"
            )


def is_sequence(value: object) -> bool:
    return isinstance(value, Sequence | np.ndarray) and not isinstance(value, str)


def expand_rows(
    n_samples: int, targets: Targets, head: Head, model_name: str = "this model"
) -> TargetRows:
    """The rows of `targets` (as `expand_targets`) with their regions and boxes checked
    against `head`."""
    per_sample = (
        [TOP_ONLY] * n_samples if targets is None else per_sample_targets(n_samples, targets)
    )
    sample: list[int] = []
    rows: list[Target] = []
    for index, sample_targets in enumerate(per_sample):
        if sample_targets is not TOP_ONLY:
            check_items(sample_targets, head, model_name)
        for item in sample_targets:
            sample.append(index)
            rows.append(item if isinstance(item, Target) else Target(int(item)))  # type: ignore[call-overload]
    return TargetRows.build(sample, rows, head.region_size)


def check_items(items: Sequence[object], head: Head, model_name: str) -> None:
    """Class indices in range; a region or a box only where the head takes it."""
    if len(items) == 0:
        check_targets(items, head.n_classes, model_name)  # refused: empty
    classes = [item.cls if isinstance(item, Target) else item for item in items]
    chosen = [cls for cls, item in zip(classes, items, strict=True) if not is_top_object(item)]
    if chosen:
        check_targets(chosen, head.n_classes, model_name)
    for item in items:
        if not isinstance(item, Target):
            continue
        if item.region is not None:
            if head.kind != "segmentation":
                raise TargetNotTaken(
                    f"a mask targets a segmentation output; output {head.output!r} of "
                    f"model {model_name} is {head.kind}"
                )
            if tuple(np.shape(item.region)) != head.grid:
                raise InvalidInput(
                    f"a region must be {head.grid} (the output's grid), not {np.shape(item.region)}"
                )
        if (item.box is not None or item.anchor >= 0) and head.kind != "detection":
            raise TargetNotTaken(
                f"a box targets a detection head; output {head.output!r} of model "
                f"{model_name} is {head.kind}"
            )


def is_top_object(item: object) -> bool:
    """An object target without a class: the top class of its region or box."""
    return isinstance(item, Target) and item.cls == TOP_PREDICTION
