"""The frontend phase: each response kind a frontend picks, interleaved, against
overlay=false and a bare forward measured side by side; the goals; the floor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
import numpy as np

from bench.http_load.forward_probe import ForwardProbe
from bench.http_load.traffic import EXPLAIN, MODEL, percentile, test_image
from bench.server import ROOT, metric_sum, scrape, serving

# The model the frontend phase measures (--model).
FRONTEND_MODEL = MODEL
FRONTEND_KINDS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    # kind: (form fields, headers)
    "default JSON (composite overlay)": ({}, {}),
    "overlay_format=png (JSON)": ({"overlay_format": "png"}, {}),
    "overlay=layer (JSON)": ({"overlay": "layer"}, {}),
    "overlay=false (JSON)": ({"overlay": "false"}, {}),
    "Accept: image/png (composite)": ({}, {"accept": "image/png"}),
    "Accept: image/png, overlay=layer": ({"overlay": "layer"}, {"accept": "image/png"}),
}


STAGES = ("decode", "queue_wait", "compute", "render")


@dataclass
class KindFigures:
    latencies: list[float] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    body_bytes: int = 0


def stage_sums(base: str, model: str) -> dict[str, float]:
    values = scrape(base)
    return {
        s: metric_sum(values, "gradcam_stage_seconds_sum", model=model, stage=s) for s in STAGES
    }


# A request the server parses in full (the multipart upload) and refuses before any model
# work (422: an unknown overlay value): HTTP, middleware and form parsing alone.
HTTP_ONLY = "HTTP only (upload parsed, then 422)"


def frontend_phase(
    base: str, jpeg: bytes, model: str, rounds: int, probe: ForwardProbe
) -> tuple[dict[str, list[float]], dict[str, KindFigures]]:
    """In-process references (forward, preprocessing, Grad-CAM; ms) and each response
    kind, interleaved round by round; /metrics is read between requests (outside the
    timed span) to split the server's time by stage per kind."""
    references: dict[str, list[float]] = {}
    kinds = {**FRONTEND_KINDS, HTTP_ONLY: ({"overlay": "bogus"}, {})}
    figures = {kind: KindFigures() for kind in kinds}
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(rounds + 3):  # the first 3 rounds warm up
            if i >= 3:
                for name, times in probe.measure(3).items():
                    references.setdefault(name, []).extend(times)
            for kind, (fields, headers) in kinds.items():
                files = {"image": ("photo.jpg", jpeg, "image/jpeg")}
                before = stage_sums(base, model)
                start = time.perf_counter()
                response = client.post(
                    EXPLAIN.format(model), files=files, data=fields, headers=headers
                )
                if kind != HTTP_ONLY or response.status_code != 422:
                    response.raise_for_status()
                if "json" in response.headers["content-type"]:
                    response.json()  # a frontend parses what it gets
                elapsed = time.perf_counter() - start
                if i < 3:
                    continue
                kind_figures = figures[kind]
                kind_figures.latencies.append(elapsed)
                kind_figures.body_bytes = len(response.content)
                after = stage_sums(base, model)
                for stage in STAGES:
                    kind_figures.stage_seconds[stage] += after[stage] - before[stage]
    return references, figures


def frontend_main(model: str, quick: bool) -> None:
    jpeg = test_image()
    probe = ForwardProbe(model)
    try:
        with serving({"GRADCAM_MODELS_DIR": str(ROOT / "models")}) as (base, _):
            references, figures = frontend_phase(base, jpeg, model, 10 if quick else 40, probe)
    finally:
        probe.close()
    forward = float(np.median(references["forward"]))
    print(f"\n{model}, 640x480 JPEG multipart upload, 1 httpx client, sequential:")
    print(
        f"  bare compiled forward, batch 1, 1 thread per op (the server's), measured between"
        f" the requests: p50 {forward:.1f} ms of {len(references['forward'])}"
    )
    bare = percentile(figures["overlay=false (JSON)"].latencies, 50)
    for kind, kind_figures in figures.items():
        ms = percentile(kind_figures.latencies, 50)
        print(
            f"  {kind:34s} p50 {ms:6.1f} ms = {ms / forward:.2f} x forward"
            f" = {ms / bare:.2f} x overlay=false; body {kind_figures.body_bytes / 1024:6.1f} KB"
        )
        count = len(kind_figures.latencies)
        stages = ", ".join(
            f"{s} {v / count * 1000:.1f}" for s, v in kind_figures.stage_seconds.items()
        )
        print(f"      server ms per request: {stages}")
    print_goals(figures, bare)
    print_floor(forward, references, percentile(figures[HTTP_ONLY].latencies, 50), bare)


# The standing goals: p50 at most these times overlay=false's p50 (the same request
# without any drawing), and the default JSON body at most 100 KB.
RATIO_GOALS = {"overlay=layer (JSON)": 1.15, "default JSON (composite overlay)": 1.35}
BODY_GOAL_KB = 100.0


def print_goals(figures: dict[str, KindFigures], bare: float) -> None:
    default, png = figures["default JSON (composite overlay)"], figures["overlay_format=png (JSON)"]
    default_ms, png_ms = percentile(default.latencies, 50), percentile(png.latencies, 50)
    print("  default (auto: JPEG) against overlay_format=png, side by side:")
    print(
        f"    p50 {default_ms:.1f} ms against {png_ms:.1f} ms ({default_ms / png_ms:.2f}x);"
        f" body {default.body_bytes / 1024:.1f} KB against {png.body_bytes / 1024:.1f} KB"
        f" ({default.body_bytes / png.body_bytes:.2f}x)"
    )
    print("  goals:")
    for kind, goal in RATIO_GOALS.items():
        ratio = percentile(figures[kind].latencies, 50) / bare
        verdict = "met" if ratio <= goal else "NOT met"
        print(f"    {kind:34s} p50 / overlay=false p50 = {ratio:.2f} (goal <= {goal}): {verdict}")
    size_kb = default.body_bytes / 1024
    verdict = "met" if size_kb <= BODY_GOAL_KB else "NOT met"
    print(f"    default JSON body {size_kb:.1f} KB (goal <= {BODY_GOAL_KB:.0f} KB): {verdict}")


def print_floor(
    forward: float, references: dict[str, list[float]], http_ms: float, bare: float
) -> None:
    """What every explain request of this upload costs before any overlay is drawn, as
    parts of the forward measured side by side; then the drawing, step by step, against
    what each goal leaves for it above overlay=false."""
    preprocess = float(np.median(references["preprocess"]))
    gradcam = float(np.median(references["gradcam"]))
    floor = preprocess + gradcam + http_ms
    print("  the floor of a request before any overlay (medians, x forward):")
    for name, ms in (
        ("preprocessing in-process (JPEG decode, bicubic resize, scaling)", preprocess),
        ("compiled Grad-CAM in-process (batch 1, default layer)", gradcam),
        ("HTTP round trip of the upload, parsed, no model work", http_ms),
        ("sum", floor),
    ):
        print(f"    {name:64s} {ms:5.1f} ms = {ms / forward:.2f}")
    print("  drawing in-process (the server's code, data URL), against what each goal leaves:")
    for kind, name, goal in (
        (
            "composite",
            "composite at 640x480, JPEG (default)",
            RATIO_GOALS["default JSON (composite overlay)"],
        ),
        ("composite png", "composite at 640x480, PNG (ELI5-exact)", None),
        ("layer", "map-sized layer, PNG", RATIO_GOALS["overlay=layer (JSON)"]),
    ):
        ms = float(np.median(references[kind]))
        left = "" if goal is None else f"; goal {goal} leaves {(goal - 1) * bare:5.1f} ms"
        print(f"    {name:40s} {ms:5.1f} ms = {ms / forward:.2f} x forward{left}")
    print("  the default composite, step by step (medians):")
    for name in references:
        if name.startswith("step: "):
            ms = float(np.median(references[name]))
            print(f"    {name.removeprefix('step: '):40s} {ms:5.1f} ms")
