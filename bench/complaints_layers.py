"""Where the `complaints` model's highlights fall, per layer: the share of the strongest
tenth of the characters that lies on mortgage words, against chance (the share of all
characters that do), on mortgage complaints.

`service` is the answer as the service gives it (ELI5's linear stretch of the map over
the 3193 positions). `aligned` places map position j at the centre of the characters it
sees (valid convolutions and poolings: stride s, centre s*j + c) before interpolating:
not what the service does, shown to measure how much the stretch moves the highlights.

    python -m bench.complaints_layers
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from app.explain.options import ExplainOptions, TextInput
from app.explain.texts import explain_texts, prepare_texts
from app.registry.card import read_card
from app.registry.registry import load_served_model

ROOT = Path(__file__).resolve().parents[1]
MORTGAGE_WORDS = {
    "mortgage", "escrow", "servicer", "loan", "modification", "foreclosure",
    "property", "payment", "payments", "insurance", "taxes", "homeowners",
}  # fmt: skip
# stride and centre (in characters) of each layer's map positions, from the architecture
RECEPTIVE = {"conv1d_1": (1, 7.0), "conv1d_2": (2, 16.5), "conv1d_3": (4, 25.5)}
SHORT = (
    "I refinanced my home loan last year and the new mortgage company never paid my "
    "homeowners insurance from escrow, so the policy lapsed. Now they placed force-placed "
    "insurance on the property and added it to my monthly mortgage payment. I called the "
    "servicer five times about the escrow account and nobody fixed it."
)


def strongest_share(text: str, char_weights: np.ndarray) -> tuple[float, float]:
    on_words = np.zeros(len(text), dtype=bool)
    for match in re.finditer(r"[A-Za-z]+", text):
        on_words[match.start() : match.end()] = match.group().lower() in MORTGAGE_WORDS
    top = np.argsort(-char_weights, kind="stable")[: len(text) // 10]
    return float(on_words[top].mean()), float(on_words.mean())


def service_weights(served, text: str, layer: str) -> np.ndarray:
    answer = explain_texts(served, [TextInput(text=text)], ExplainOptions(layer=layer))
    weights = np.zeros(len(text))
    for _token, ranges, weight in answer.explanations[0].targets[0].weighted_spans.spans:
        for start, end in ranges:
            weights[start:end] = weight
    return weights


def aligned_weights(served, text: str, layer: str) -> np.ndarray:
    prepared = prepare_texts(served, [TextInput(text=text)], ExplainOptions())
    cam = served.gradcam(layer, "gradcam").explain(prepared.inputs).heatmaps[0]
    stride, centre = RECEPTIVE[layer]
    per_position = np.interp(
        np.arange(cam.size * stride), stride * np.arange(cam.size) + centre, cam
    )
    source = prepared.sources[0]
    assert source is not None
    weights = np.zeros(len(text))
    for position, where in enumerate(source.ranges):
        if where is not None and position < per_position.size:
            weights[where[0] : where[1]] = per_position[position]
    return weights


def main() -> None:
    served = load_served_model(ROOT / "models", read_card(ROOT / "models" / "complaints"), None)
    example = (ROOT / "docs" / "examples" / "complaint_mortgage.txt").read_text(encoding="utf-8")
    for name, text in (("complaint_mortgage.txt", example), ("short complaint", SHORT)):
        print(f"{name} ({len(text)} characters): strongest tenth on mortgage words")
        for layer in RECEPTIVE:
            service, chance = strongest_share(text, service_weights(served, text, layer))
            aligned, _ = strongest_share(text, aligned_weights(served, text, layer))
            print(
                f"  {layer}: service {service:4.0%}  aligned {aligned:4.0%}  chance {chance:4.0%}"
            )


if __name__ == "__main__":
    main()
