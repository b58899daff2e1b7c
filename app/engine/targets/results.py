"""What a compiled CAM call returns: maps and scores for (sample, target) rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine.targets.heads import Head


@dataclass(frozen=True)
class CamBatch:
    """Grad-CAM results: N maps for B input samples (N = B x targets per sample)."""

    predictions: np.ndarray  # (B, n_classes): the explained output per class (see Head.summary)
    sample: np.ndarray  # (N,) int: the input sample of each map
    targets: np.ndarray  # (N,) int: class explained (top prediction resolved)
    scores: np.ndarray  # (N,) float: model output at the target
    cams: np.ndarray  # (N, *spatial): raw maps, after relu / counterfactual
    heatmaps: np.ndarray  # (N, *spatial): cams / (scale + 1e-7), in [0,1] or [-1,1]
    scales: np.ndarray  # (N,): max |cam| of each map
    metrics: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N,) scores
    gaps: np.ndarray | None = None  # (N,): integrated-gradients' completeness gap
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # every output, (B, ...)
    anchors: np.ndarray | None = None  # (N,) int: detection's predicted box, else -1
    quality: np.ndarray | None = None  # (N,): a region's pixels, a box's IoU, else 1
    regions: np.ndarray | None = None  # (N, P): the region explained (segmentation)
    head: Head | None = None  # what the rows were scored by (None: a classifier)

    def samples(self, start: int, stop: int) -> CamBatch:
        """The maps of input samples `start..stop-1`, renumbered from 0."""
        rows = (self.sample >= start) & (self.sample < stop)
        return CamBatch(
            predictions=self.predictions[start:stop],
            sample=self.sample[rows] - start,
            targets=self.targets[rows],
            scores=self.scores[rows],
            cams=self.cams[rows],
            heatmaps=self.heatmaps[rows],
            scales=self.scales[rows],
            metrics={name: values[rows] for name, values in self.metrics.items()},
            gaps=None if self.gaps is None else self.gaps[rows],
            outputs={name: values[start:stop] for name, values in self.outputs.items()},
            anchors=None if self.anchors is None else self.anchors[rows],
            quality=None if self.quality is None else self.quality[rows],
            regions=None if self.regions is None else self.regions[rows],
            head=self.head,
        )


def step_batch(
    parts: list[dict[str, Any]], sample: np.ndarray, n_inputs: int, head: Head
) -> CamBatch:
    """The CamBatch of a compiled step's results (`app.engine.targets.heads.step_results`),
    called on consecutive chunks of the rows `sample` (N,) of `n_inputs` inputs."""

    def joined(key: str) -> np.ndarray:
        return np.concatenate([np.asarray(part[key]) for part in parts])

    first_row = np.searchsorted(sample, np.arange(n_inputs))
    outputs = {
        name: np.concatenate([np.asarray(part["outputs"][name]) for part in parts])[first_row]
        for name in parts[0]["outputs"]
    }
    return CamBatch(
        predictions=head.summary(outputs),
        sample=sample,
        targets=joined("target"),
        scores=joined("value"),
        cams=joined("raw"),
        heatmaps=joined("heatmaps"),
        scales=joined("scales"),
        outputs=outputs,
        anchors=joined("anchor"),
        quality=joined("quality"),
        regions=joined("region"),
        head=head,
        gaps=joined("gaps") if "gaps" in parts[0] else None,
    )
