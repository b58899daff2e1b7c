"""An audit's HTML report: one self-contained page (inline PNG and SVG, no external
assets) that a person reads in a browser: the scores per method, the randomisation
curves, each class's mean map per method, and the instances whose maps lie most outside
their boxes, drawn over their images with their box or mask outlined in white (a scene of
several objects: which one the instance is)."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from scipy.ndimage import binary_erosion

from app.jobs.audit import MethodRecord
from app.jobs.audit_summary import class_name
from app.render.colormap import colorize
from app.render.encode import data_url
from app.render.overlay import blend_overlay

WORST = 6  # instances shown per method
MAP_SIDE = 96
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:72rem}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.pass{color:#0a7a2f;font-weight:600}.fail{color:#b00020;font-weight:600}
figure{display:inline-block;margin:.4rem;text-align:center;font-size:.8rem}
img{image-rendering:pixelated;border:1px solid #ddd}.flags li{margin:.2rem 0}
"""


@dataclass
class ReportData:
    model: str
    version: str
    labels: tuple[str, ...]  # the model's class names
    instance_labels: np.ndarray
    names: list[str]
    thumbnails: list[np.ndarray]
    records: dict[str, MethodRecord]
    result: dict[str, Any]
    regions: np.ndarray | None = None  # (N, H, W) bool at the input size: outlined


def png_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return data_url(buffer.getvalue(), "png")


def map_image(heatmap: np.ndarray) -> str:
    """A map coloured (viridis) and scaled to `MAP_SIDE` px, as a data URL."""
    values = np.asarray(heatmap, np.float64)
    span = values.max() - values.min()
    unit = (values - values.min()) / span if span > 0 else np.zeros_like(values)
    rgb = (colorize(unit, "viridis")[..., :3] * 255).astype(np.uint8)
    image = Image.fromarray(rgb).resize((MAP_SIDE, MAP_SIDE), Image.Resampling.BILINEAR)
    return png_url(np.asarray(image))


def fmt(value: object) -> str:
    return (
        "&ndash;" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
    )


def render_report(data: ReportData) -> str:
    result = data.result
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Audit of {html.escape(data.model)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Audit of {html.escape(data.model)} (version {html.escape(data.version)})</h1>",
        f"<p>{result['instances']} instances, accuracy {result['accuracy']:.3f}.</p>",
        scores_table(result),
        curves_section(result),
        classes_section(data),
        worst_section(data),
        flags_section(result),
        "</body></html>",
    ]
    return "".join(parts)


def scores_table(result: dict[str, Any]) -> str:
    head = (
        "<h2>Scores per method</h2><table><tr><th>method</th><th>pointing</th>"
        "<th>energy pointing</th><th>deletion ↓</th><th>insertion ↑</th><th>ROAD ↑</th>"
        "<th>random-logit SSIM ↓</th><th>randomisation</th></tr>"
    )
    rows = []
    for method, scores in result["methods"].items():
        logit = scores["random_logit"]
        rows.append(
            f"<tr><td>{html.escape(method)}</td>"
            + "".join(
                f"<td>{fmt(scores[key])}</td>"
                for key in ("pointing", "energy_pointing", "deletion", "insertion", "road")
            )
            + f"<td>{fmt(None if logit is None else logit['ssim'])}</td>"
            + f"<td>{verdict(scores['randomization'])}</td></tr>"
        )
    return head + "".join(rows) + "</table>"


def verdict(randomization: dict[str, Any] | None) -> str:
    if randomization is None:
        return "&ndash;"
    word = "passed" if randomization["passed"] else "failed"
    return (
        f"<span class='{'pass' if randomization['passed'] else 'fail'}'>{word}</span> "
        f"(final rho {fmt(randomization['final_spearman'])})"
    )


def curves_section(result: dict[str, Any]) -> str:
    charts = [
        curve_svg(method, scores["randomization"]["steps"])
        for method, scores in result["methods"].items()
        if scores["randomization"] is not None and scores["randomization"]["steps"]
    ]
    if not charts:
        return ""
    return (
        "<h2>Randomisation curves</h2><p>Similarity between the map of the trained model "
        "and of its copy with layers re-drawn from the top (left) down (right): Spearman rho "
        "(blue) and SSIM (orange). A method passes when the final rho is below 0.5 (dashed).</p>"
        + "".join(charts)
    )


def curve_svg(method: str, steps: list[dict[str, Any]], width: int = 420, height: int = 200) -> str:
    left, top, plot_w, plot_h = 36, 20, width - 50, height - 50

    def point(i: int, value: float) -> str:
        x = left + plot_w * (i / max(1, len(steps) - 1))
        y = top + plot_h * (1 - (value + 1) / 2)  # -1..1 upwards
        return f"{x:.1f},{y:.1f}"

    lines = []
    for key, colour in (("spearman", "#1f77b4"), ("ssim", "#ff7f0e")):
        path = " ".join(point(i, s[key]) for i, s in enumerate(steps))
        lines.append(f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{path}'/>")
    threshold = top + plot_h * (1 - 1.5 / 2)
    axis_labels = "".join(
        f"<text x='4' y='{top + plot_h * (1 - (v + 1) / 2) + 4:.1f}' font-size='10'>{v:g}</text>"
        for v in (1, 0, -1)
    )
    return (
        f"<figure><svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='randomisation curve of {html.escape(method)}'>"
        f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='#fafafa' "
        f"stroke='#ccc'/>{axis_labels}"
        f"<line x1='{left}' x2='{left + plot_w}' y1='{threshold:.1f}' y2='{threshold:.1f}' "
        f"stroke='#999' stroke-dasharray='4 3'/>{''.join(lines)}"
        f"<text x='{left}' y='{height - 12}' font-size='10'>{html.escape(steps[0]['layer'])}"
        f"</text><text x='{left + plot_w}' y='{height - 12}' font-size='10' text-anchor='end'>"
        f"{html.escape(steps[-1]['layer'])}</text></svg>"
        f"<figcaption>{html.escape(method)}: {len(steps)} layers</figcaption></figure>"
    )


def classes_section(data: ReportData) -> str:
    rows = []
    for label in sorted(set(data.instance_labels.tolist())):
        count = int(np.sum(data.instance_labels == label))
        name = html.escape(class_name(data.labels, label))
        figures = "".join(
            f"<figure><img alt='mean {html.escape(method)} map of {name}' "
            f"src='{map_image(record.class_sums[label] / count)}'>"
            f"<figcaption>{html.escape(method)}</figcaption></figure>"
            for method, record in data.records.items()
            if np.ndim(record.class_sums[label]) == 2
        )
        if figures:
            rows.append(f"<h3>{name} ({count} instances)</h3>{figures}")
    return "<h2>Mean map per class</h2>" + "".join(rows) if rows else ""


def worst_section(data: ReportData) -> str:
    if not data.thumbnails:
        return ""
    parts = []
    for method, record in data.records.items():
        energy = record.per_instance.get("energy_pointing")
        if energy is None:
            continue
        figures = []
        for index in np.argsort(energy, kind="stable")[:WORST]:
            thumb = shown_size(Image.fromarray(data.thumbnails[index]))
            overlay = blend_overlay(thumb, np.clip(record.heatmaps[index], 0, 1))
            if data.regions is not None:
                overlay = outlined(overlay, data.regions[index])
            caption = (
                f"{html.escape(data.names[index])}: "
                f"{html.escape(class_name(data.labels, int(data.instance_labels[index])))}, "
                f"{energy[index]:.0%} inside"
            )
            figures.append(
                f"<figure><img alt='{caption}' src='{png_url(np.asarray(overlay))}'>"
                f"<figcaption>{caption}</figcaption></figure>"
            )
        parts.append(f"<h3>{html.escape(method)}</h3>{''.join(figures)}")
    if not parts:
        return ""
    return "<h2>Least mass inside the box</h2>" + "".join(parts)


def outlined(image: Image.Image, region: np.ndarray) -> Image.Image:
    """`image` with the border pixels of `region` (resized nearest to it) in white."""
    inside = Image.fromarray(np.asarray(region, np.uint8) * 255)
    inside_at = np.asarray(inside.resize(image.size, Image.Resampling.NEAREST)) > 0
    border = inside_at & ~binary_erosion(inside_at, border_value=0)
    pixels = np.array(image.convert("RGB"))
    pixels[border] = 255
    return Image.fromarray(pixels)


def shown_size(image: Image.Image, side: int = 128) -> Image.Image:
    """Small images (a 64 px model input) enlarged to `side` px so the map can be seen."""
    scale = side / max(image.size)
    if scale <= 1:
        return image
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.NEAREST)


def flags_section(result: dict[str, Any]) -> str:
    items = []
    for flag in result["flags"]:
        if flag["kind"] == "border":
            items.append(
                f"<li>{html.escape(flag['method'])}: class {html.escape(flag['class'])} has "
                f"{flag['border_share']:.0%} of its mean map on the image border</li>"
            )
        else:
            items.append(
                f"<li>{html.escape(flag['method'])}: {html.escape(flag['name'])} has "
                f"{flag['energy_pointing']:.0%} of its map inside its box</li>"
            )
    body = "".join(items) or "<li>none</li>"
    return f"<h2>Flags</h2><ul class='flags'>{body}</ul>"
