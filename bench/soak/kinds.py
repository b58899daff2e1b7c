"""The cycle of request kinds, per model, then the bad requests (each expects a 4xx).

Two layers and at most a dozen (layer, method) pairs a model: fewer than the compiled
functions a model keeps (MAX_COMPILED_LAYERS), so after the warm-up none is traced again.
"""

from __future__ import annotations

import numpy as np

from bench.soak.extras import bad_extras, extra_kinds
from bench.soak.heads import head_kinds
from bench.soak.mix import (
    EXPLAIN,
    WORDS,
    Inputs,
    Kind,
    Request,
    b64,
    form,
    json_images,
    listed,
    raw,
    targets,
    texts,
)
from bench.soak.repository import VERSIONED

Rng = np.random.Generator
PHOTO = "image/jpeg"
E, S, V = "efficientnet_lite0", "shapes", "shapes_vit"


def photo_kinds() -> list[Kind]:
    def first(rng: Rng, io: Inputs) -> Request:
        return raw(E, (io.photo, PHOTO), {"targets": listed(targets(rng, io.classes(E), 1))})

    def faithful(rng: Rng, io: Inputs) -> Request:
        parameters = {"method": "layercam", "overlay": False, "metric_steps": 8}
        return json_images(E, [io.photo], parameters | {"metrics": ["deletion", "insertion"]})

    def second_layer(rng: Rng, io: Inputs) -> Request:
        layer = io.layers(E)[1]
        parameters = {"layer": layer, "method": "xgradcam", "overlay_format": "png"}
        return json_images(E, [io.photo], parameters | {"targets": targets(rng, io.classes(E))})

    return [
        first,
        lambda rng, io: form(
            E,
            (io.photo, PHOTO),
            {"method": "gradcam++", "overlay": "layer", "overlay_format": "webp"},
        ),
        faithful,
        lambda rng, io: raw(E, (io.photo, PHOTO), {}, accept="image/png"),
        second_layer,
    ]


def shapes_kinds(model: str) -> list[Kind]:
    def many_targets(rng: Rng, io: Inputs) -> Request:
        fields = {"targets": "0,1,2,3", "colormap": "jet", "overlay_format": "png"}
        return form(model, io.shapes["png64"], fields)

    def scorecam(rng: Rng, io: Inputs) -> Request:
        parameters = {"method": "scorecam", "max_channels": 8, "overlay": False}
        parameters |= {"metrics": ["drop", "increase"], "targets": targets(rng, 4)}
        return json_images(model, [io.shapes["png64"][0]], parameters)

    def ablation(rng: Rng, io: Inputs) -> Request:
        params = {"method": "ablationcam", "max_channels": "8", "overlay": "layer"}
        return raw(model, io.shapes["jpeg96x80"], params)

    def options(rng: Rng, io: Inputs) -> Request:
        fields = {"method": "hirescam", "counterfactual": "true", "relu": "false"}
        fields |= {"score": "output", "overlay_format": "jpeg", "alpha_limit": "0.4"}
        return form(model, io.shapes["webp128"], fields)

    def second_layer(rng: Rng, io: Inputs) -> Request:
        parameters = {"layer": io.layers(model)[1], "method": "gradcam-elementwise"}
        parameters |= {"metrics": ["deletion"], "metric_steps": 4}
        return json_images(model, [io.shapes["jpeg96x80"][0]], parameters)

    return [
        many_targets,
        scorecam,
        ablation,
        lambda rng, io: json_images(
            model,
            [io.shapes[n][0] for n in ("png64", "webp128")],
            {"method": "eigencam", "overlay_format": "webp"},
        ),
        options,
        second_layer,
        lambda rng, io: raw(
            model, io.shapes["png64"], {"method": "eigengradcam"}, accept="image/webp"
        ),
    ]


def vit_kinds() -> list[Kind]:
    return [
        lambda rng, io: json_images(
            V,
            [io.shapes["png64"][0]],
            {"method": "attention-rollout", "overlay": "layer", "overlay_format": "webp"},
        ),
        lambda rng, io: form(
            V,
            io.shapes["webp128"],
            {"method": "attention-gradcam", "targets": listed(targets(rng, 4))},
        ),
        lambda rng, io: json_images(
            V, [io.shapes["jpeg96x80"][0]], {"metrics": ["insertion"], "metric_steps": 4}
        ),
        lambda rng, io: raw(
            V, io.shapes["png64"], {"method": "gradcam++", "layer": io.layers(V)[1]}
        ),
    ]


def words(rng: Rng, most: int = 30) -> str:
    return " ".join(rng.choice(WORDS, int(rng.integers(3, most))))


def text_kinds() -> list[Kind]:
    def keywords(rng: Rng, io: Inputs) -> Request:
        instances = [{"text": words(rng)} for _ in range(int(rng.integers(1, 4)))]
        padding = ["post", "pre"][int(rng.integers(2))]
        return texts("keywords", instances, {"padding": padding, "relu": bool(rng.integers(2))})

    def keyword_tokens(rng: Rng, io: Inputs) -> Request:
        tokens = words(rng, 12).split()
        parameters = {"method": "layercam", "targets": targets(rng, io.classes("keywords"))}
        return texts("keywords", [{"tokens": tokens}, {"ids": [2, 4, 6, 3]}], parameters)

    def complaint(rng: Rng, io: Inputs) -> Request:
        example = io.details["complaints"]["card"]["text"]["example"]
        start = int(rng.integers(0, max(1, len(example) - 400)))
        method = ["gradcam", "gradcam++"][int(rng.integers(2))]
        parameters = {"method": method, "interpolation_kind": "nearest"}
        return texts("complaints", [{"text": example[start : start + 400]}], parameters)

    return [keywords, keyword_tokens, complaint]


def versioned_kinds() -> list[Kind]:
    return [
        lambda rng, io: json_images(
            VERSIONED, [io.shapes["png64"][0]], {"targets": targets(rng, 4)}
        ),
        lambda rng, io: form(
            VERSIONED, io.shapes["jpeg96x80"], {"method": "scorecam", "max_channels": "4"}
        ),
    ]


def bad(kind: str, path: str, **send: object) -> Kind:
    return lambda rng, io: Request(f"bad: {kind}", path, dict(send), bad=True)


def unknown_model(rng: Rng, io: Inputs) -> Request:
    """A new made-up name each time: nothing may be kept per name (metrics labels...)."""
    path = EXPLAIN.format(f"nope-{int(rng.integers(1 << 30))}")
    return Request("bad: unknown model", path, {"json": {"instances": []}}, bad=True)


def unknown_layer(rng: Rng, io: Inputs) -> Request:
    """A valid photo and a made-up layer: a bad layer name must not be kept either."""
    layer = f"nope-{int(rng.integers(1 << 30))}"
    request = json_images(E, [io.photo], {"layer": layer})
    return Request("bad: unknown layer", request.path, request.send, bad=True)


def unknown_version(rng: Rng, io: Inputs) -> Request:
    version = int(rng.integers(100, 1 << 30))
    path = f"/v1/models/{VERSIONED}/versions/{version}:explain"
    request = json_images(VERSIONED, [io.shapes["png64"][0]], {})
    return Request("bad: unknown version", path, request.send, bad=True)


def bad_kinds() -> list[Kind]:
    png = {"content-type": "image/png"}
    shapes = EXPLAIN.format(S)
    one_image = {"instances": [{"image": b64(b"x")}]}
    return [
        unknown_model,
        bad("unknown method", shapes, content=b"x", headers=png, params={"method": "bogus"}),
        bad("not an image", shapes, content=b"not an image at all", headers=png),
        bad("target out of range", shapes, json=one_image | {"parameters": {"targets": [99]}}),
        unknown_version,
        bad(
            "metrics on text",
            EXPLAIN.format("keywords"),
            json={"instances": [{"text": "goal"}], "parameters": {"metrics": ["drop"]}},
        ),
        unknown_layer,
        bad("no instances", shapes, json={"instances": []}),
        bad(
            "malformed JSON",
            shapes,
            content=b'{"instances": [',
            headers={"content-type": "application/json"},
        ),
        bad(
            "a layer as JPEG",
            shapes,
            json=one_image | {"parameters": {"overlay": "layer", "overlay_format": "jpeg"}},
        ),
        bad(
            "attention on a CNN",
            shapes,
            json=one_image | {"parameters": {"method": "attention-rollout"}},
        ),
        bad("text to an image model", shapes, json={"instances": [{"text": "a circle"}]}),
    ]


def all_kinds() -> list[Kind]:
    """Model kinds and bad ones interleaved: a bad request every few good ones."""
    good = photo_kinds() + shapes_kinds(S) + vit_kinds() + text_kinds() + versioned_kinds()
    good += head_kinds() + extra_kinds()
    wrong = bad_kinds() + bad_extras()
    cycle: list[Kind] = []
    for index, kind in enumerate(good):
        cycle.append(kind)
        cycle += wrong[index * len(wrong) // len(good) : (index + 1) * len(wrong) // len(good)]
    return cycle
