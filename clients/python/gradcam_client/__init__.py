"""A small typed client for gradcam-server: needs httpx, numpy and Pillow only.

from gradcam_client import Client

with Client("http://127.0.0.1:8000") as client:
    result = client.explain_image("shapes", "triangle.png", targets=[2])
    heatmap = result.explanation.targets[0].heatmap  # numpy (h, w) in [0, 1]
    result.explanation.targets[0].overlay.save("overlay.png")  # PIL image
"""

from gradcam_client.async_client import AsyncClient
from gradcam_client.client import Client
from gradcam_client.errors import GradcamError, ProblemError, Timeout, TransportError
from gradcam_client.protocol import RetryPolicy
from gradcam_client.results import (
    ExplainResult,
    Explanation,
    LayerInfo,
    ModelInfo,
    ModelSummary,
    Prediction,
    TargetExplanation,
    WeightedSpans,
)
from gradcam_client.targets import box_target, output_target, region_target

__all__ = [
    "AsyncClient",
    "Client",
    "ExplainResult",
    "Explanation",
    "GradcamError",
    "LayerInfo",
    "ModelInfo",
    "ModelSummary",
    "Prediction",
    "ProblemError",
    "RetryPolicy",
    "TargetExplanation",
    "Timeout",
    "TransportError",
    "WeightedSpans",
    "box_target",
    "output_target",
    "region_target",
]
