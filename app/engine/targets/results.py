"""What a compiled CAM call returns: maps and scores for (sample, target) rows."""

from __future__ import annotations

from dataclasses import dataclass, field

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
            outputs={name: values[start:stop] for name, values in self.outputs.items()},
            anchors=None if self.anchors is None else self.anchors[rows],
            quality=None if self.quality is None else self.quality[rows],
            regions=None if self.regions is None else self.regions[rows],
            head=self.head,
        )
