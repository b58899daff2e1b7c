"""The page with the heads beyond a classifier, in Chromium against a real server: a
segmenter's regions (click one: its object explained), a detector's boxes (click one:
that box explained), a multilabel model's tags (click one: that label explained).

Scenes come from training/shapes_scenes.py, so where each shape lies is known; they are
uploaded at 4x (256x256, nearest), so masks and boxes are mapped between the upload's
pixels and the model's grids."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from tests.web.conftest import DET_MODEL, SEG_MODEL, TAG_MODEL
from training.shapes_data import LABELS
from training.shapes_scenes import make_scenes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

UPSCALE = 4
EXPLAIN = re.compile(r".*:explain$")
CHOSEN = (255, 212, 0)  # marks.js: the highlight of the region or box explained


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


class Scene:
    """One generated scene: its upload (a PNG file) and each shape's class and mask."""

    def __init__(self, folder, n: int, seed: int, index: int, distinct: bool) -> None:
        scenes = make_scenes(n, seed=seed, counts=(2,), distinct=distinct)
        self.classes = [int(k) for k in scenes.classes[index, :2]]
        self.boxes = [box * UPSCALE for box in scenes.boxes[index, :2]]
        masks = scenes.masks[index].repeat(UPSCALE, axis=0).repeat(UPSCALE, axis=1)
        self.shapes = [masks == k + 1 for k in self.classes]  # each shape's own pixels
        for slot, (x0, y0, x1, y1) in enumerate(self.boxes):
            alone = np.zeros_like(self.shapes[slot])
            alone[y0:y1, x0:x1] = self.shapes[slot][y0:y1, x0:x1]
            self.shapes[slot] = alone  # two shapes of one class: each its own mask
        picture = Image.fromarray(scenes.images[index])
        self.size = picture.width * UPSCALE
        self.path = folder / f"scene-{seed}-{index}.png"
        picture.resize((self.size, self.size), Image.Resampling.NEAREST).save(self.path)

    def centre(self, slot: int) -> tuple[float, float]:
        """A pixel of the shape near its centre of mass (x, y)."""
        ys, xs = np.nonzero(self.shapes[slot])
        nearest = np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2)
        return float(xs[nearest]) + 0.5, float(ys[nearest]) + 0.5


@pytest.fixture
def two_classes(tmp_path) -> Scene:
    return Scene(tmp_path, 6, seed=3, index=0, distinct=True)  # a circle and a square


# Each :explain call's form fields as the page hands them to fetch (Chromium does not give
# Playwright the body of a multipart request that holds a file).
RECORD_FIELDS = """
window.sentFields = [];
const originalFetch = window.fetch;
window.fetch = function (input, init) {
  if (String(input).endsWith(":explain") && init && init.body instanceof FormData) {
    const fields = {};
    for (const [name, value] of init.body) {
      fields[name] = typeof value === "string" ? value : "<file>";
    }
    window.sentFields.push(fields);
  }
  return originalFetch.apply(this, arguments);
};
"""


def sent_fields(page) -> list[dict]:
    return page.evaluate("window.sentFields")


def open_scene(page, model: str, scene: Scene, kind: str) -> dict:
    """The model chosen, the scene uploaded; the first answer (its default targets)."""
    page.add_init_script(RECORD_FIELDS)
    page.goto("/")
    expect(page.locator("#model-description")).not_to_be_empty()
    page.get_by_test_id("model-select").select_option(model)
    # The page takes the model once its details arrive (the description with them): an
    # upload before that would go to the model chosen before.
    description = page.request.get(f"/v1/models/{model}").json()["description"]
    expect(page.locator("#model-description")).to_have_text(description)
    expect(page.locator("#image-field")).to_be_visible()
    with page.expect_response(re.compile(rf".*/v1/models/{model}:explain$")) as answered:
        page.get_by_test_id("file-input").set_input_files(scene.path)
    expect(page.get_by_test_id("overlay")).to_have_attribute("data-kind", kind)
    return answered.value.json()


def click_image(page, point: tuple[float, float], size: int):
    """Click the shown image at `point` (the upload's pixels); the request it sends and
    the answer to it, when it sends one."""
    canvas = page.get_by_test_id("overlay")
    width, height = canvas.evaluate("c => [c.clientWidth, c.clientHeight]")
    assert width == height  # square scenes fill the canvas: no letterbox to allow for
    canvas.click(position={"x": point[0] / size * width, "y": point[1] / size * height})


def map_peak(heatmap: list, size: int) -> tuple[int, int]:
    """The centre of the map's largest cell, in the upload's pixels (x, y)."""
    values = np.asarray(heatmap)
    row, col = np.unravel_index(np.argmax(values), values.shape)
    return int((col + 0.5) * size / values.shape[1]), int((row + 0.5) * size / values.shape[0])


def inside(box, point) -> bool:
    x0, y0, x1, y1 = box
    return x0 <= point[0] <= x1 and y0 <= point[1] <= y1


def pixels_of(page, testid: str) -> np.ndarray:
    url = page.get_by_test_id(testid).evaluate("c => c.toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# ---- segmentation ---------------------------------------------------------------------


def test_the_class_map_and_its_legend_show_the_shapes(page, server, two_classes):
    first = open_scene(page, SEG_MODEL, two_classes, "region")
    present = np.unique(first["explanations"][0]["segmentation"])
    shown = page.get_by_test_id("legend").locator("li")
    labels = ["background", *LABELS]
    expect(shown).to_have_text([labels[k] for k in present if k != 0])
    assert sorted(shown.all_text_contents()) == sorted(LABELS[k] for k in two_classes.classes)
    # Coloured where a shape is; clear on the background and on the region explained (the
    # first class's predicted cells: its heatmap is what there is to see).
    (explained,) = first["explanations"][0]["targets"][:1]
    slot = two_classes.classes.index(explained["target"] - 1)
    marks = pixels_of(page, "marks")
    scale = (marks.shape[1] - 2) / two_classes.size  # a 1 px border around the image

    def shown_at(point: tuple[float, float]) -> int:
        return int(marks[int(point[1] * scale) + 1, int(point[0] * scale) + 1].sum())

    assert shown_at(two_classes.centre(1 - slot)) > 0
    assert shown_at(two_classes.centre(slot)) == 0
    assert shown_at((3, 3)) == 0  # a corner of the scene: background


def test_a_click_on_a_shape_explains_that_region(page, server, two_classes, screenshots):
    open_scene(page, SEG_MODEL, two_classes, "region")
    clicked = 1  # the square
    with page.expect_response(EXPLAIN) as answered:
        click_image(page, two_classes.centre(clicked), two_classes.size)
    (target,) = json.loads(sent_fields(page)[-1]["targets"])
    assert target["class"] == two_classes.classes[clicked] + 1  # class 0 is the background
    mask = Image.open(io.BytesIO(base64.b64decode(target["mask"]["b64"])))
    assert mask.size == (two_classes.size, two_classes.size)  # the upload's size
    region = np.asarray(mask.convert("RGBA")).any(axis=-1)
    shape, other = two_classes.shapes[clicked], two_classes.shapes[1 - clicked]
    assert not (region & other).any()
    assert (region & shape).sum() / (region | shape).sum() > 0.7  # the model's idea of it

    (explained,) = answered.value.json()["explanations"][0]["targets"]
    assert (explained["kind"], explained["target"]) == ("region", target["class"])
    assert explained["region_pixels"] == int(region.sum()) // UPSCALE**2  # the same cells
    peak = map_peak(explained["heatmap"], two_classes.size)
    assert inside(two_classes.boxes[clicked], peak), (peak, two_classes.boxes[clicked])
    overlay = page.get_by_test_id("overlay")
    expect(overlay).to_have_attribute("data-kind", "region")
    expect(page.locator("#result-caption")).to_contain_text("Region: the square under the click")
    page.screenshot(path=screenshots / "10-segmentation-region.png", full_page=True)
    # The caption, the image and its legend: docs/web-page-regions.png is a copy of it.
    top = page.locator("#result").bounding_box()
    end = page.locator("#marks-field").bounding_box()
    assert top is not None and end is not None
    height = end["y"] + end["height"] - top["y"]
    clip = {"x": top["x"], "y": top["y"], "width": top["width"], "height": height}
    page.screenshot(path=screenshots / "10-segmentation-region-result.png", clip=clip)


def test_two_shapes_of_one_class_are_two_regions(page, server, tmp_path, screenshots):
    triangles = Scene(tmp_path, 4, seed=21, index=3, distinct=False)
    assert triangles.classes == [2, 2]
    open_scene(page, SEG_MODEL, triangles, "region")
    with page.expect_response(EXPLAIN):
        click_image(page, triangles.centre(0), triangles.size)
    (target,) = json.loads(sent_fields(page)[-1]["targets"])
    region = np.asarray(
        Image.open(io.BytesIO(base64.b64decode(target["mask"]["b64"]))).convert("RGBA")
    ).any(axis=-1)
    assert (region & triangles.shapes[0]).sum() > 0.7 * triangles.shapes[0].sum()
    assert not (region & triangles.shapes[1]).any()
    expect(page.locator("#result-caption")).to_contain_text("the triangle under the click")
    page.screenshot(path=screenshots / "10-segmentation-one-of-two.png", full_page=True)


def test_a_click_on_the_background_explains_nothing_and_says_so(page, server, two_classes):
    open_scene(page, SEG_MODEL, two_classes, "region")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    click_image(page, (3, 3), two_classes.size)  # the scene's corner: no shape there
    expect(page.get_by_test_id("pick-hint")).to_contain_text("That is background")
    assert requests == [] and len(sent_fields(page)) == 1  # the upload's only


# ---- detection ------------------------------------------------------------------------


def test_a_click_on_a_box_explains_that_box(page, server, two_classes, screenshots):
    first = open_scene(page, DET_MODEL, two_classes, "box")
    detections = first["explanations"][0]["detections"]
    listed = page.get_by_test_id("legend").get_by_role("button")
    expect(listed).to_have_count(len(detections))
    clicked = 1  # the square
    wanted = LABELS[two_classes.classes[clicked]]
    (index,) = [i for i, d in enumerate(detections) if d["label"] == wanted]
    x0, y0, x1, y1 = detections[index]["box"]
    with page.expect_response(EXPLAIN) as answered:
        click_image(page, ((x0 + x1) / 2, (y0 + y1) / 2), two_classes.size)
    (target,) = json.loads(sent_fields(page)[-1]["targets"])
    assert target["class"] == two_classes.classes[clicked]
    assert target["box"] == pytest.approx(detections[index]["box"])

    (explained,) = answered.value.json()["explanations"][0]["targets"]
    assert explained["kind"] == "box" and explained["iou"] == pytest.approx(1.0, abs=1e-3)
    peak = map_peak(explained["heatmap"], two_classes.size)
    assert inside(two_classes.boxes[clicked], peak), (peak, two_classes.boxes[clicked])
    expect(listed.nth(index)).to_have_attribute("aria-pressed", "true")
    expect(listed.nth(1 - index)).to_have_attribute("aria-pressed", "false")
    # The chosen box is drawn in the highlight; the other in its class's colour.
    marks = pixels_of(page, "marks")
    scale = (marks.shape[1] - 2) / two_classes.size  # a 1 px border around the image

    def top_edge(box) -> tuple[int, ...]:
        left, top, right, _ = (v * scale + 1 for v in box)
        return tuple(int(v) for v in marks[round(top), round((left + right) / 2)])

    assert top_edge(detections[index]["box"]) == CHOSEN
    assert top_edge(detections[1 - index]["box"]) != CHOSEN
    expect(page.locator("#result-caption")).to_contain_text(f"Box: {wanted} at [")
    page.screenshot(path=screenshots / "11-detection-box.png", full_page=True)


# ---- multilabel -----------------------------------------------------------------------


def test_tags_show_each_label_and_a_click_explains_it(page, server, two_classes, screenshots):
    first = open_scene(page, TAG_MODEL, two_classes, "class")
    probabilities = first["predictions"][0]
    tags = page.get_by_test_id("predictions").get_by_role("button")
    expect(tags).to_have_count(len(LABELS))
    shown = {}
    for tag in tags.all():
        label = LABELS[int(tag.get_attribute("data-class"))]
        shown[label] = (tag.locator(".score").text_content(), tag.get_attribute("data-predicted"))
        expect(tag).to_contain_text(label)
    expected = {
        label: (f"{p:.2f}", "true" if p >= 0.5 else "false")
        for label, p in zip(LABELS, probabilities, strict=True)
    }
    assert shown == expected
    predicted = {label for label, (_, flag) in shown.items() if flag == "true"}
    assert predicted == {LABELS[k] for k in two_classes.classes}  # the scene's two shapes

    clicked = 1  # the square
    k = two_classes.classes[clicked]
    tag = page.get_by_test_id("predictions").locator(f'button[data-class="{k}"]')
    with page.expect_response(EXPLAIN) as answered:
        tag.click()
    assert sent_fields(page)[-1]["targets"] == str(k)
    (explained,) = answered.value.json()["explanations"][0]["targets"]
    assert explained["target"] == k
    peak = map_peak(explained["heatmap"], two_classes.size)
    assert inside(two_classes.boxes[clicked], peak), (peak, two_classes.boxes[clicked])
    expect(tag).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("overlay")).to_have_attribute("data-target", str(k))
    expect(page.locator("#result-caption")).to_contain_text(f"Label {LABELS[k]} (p ")
    page.screenshot(path=screenshots / "12-multilabel-tags.png", full_page=True)
