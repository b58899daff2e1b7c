"""The page at / in Chromium against a real server: each thing a person does with it."""

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from tf_keras.preprocessing.text import text_to_word_sequence

from tests.web.conftest import (
    EXAMPLE_MODEL,
    EXAMPLE_TEXT,
    IMAGE_MODEL,
    OTHER_CLASS,
    PHONE,
    PHOTO,
    PHOTO_CLASS,
    PHOTO_TYPE,
    TEXT_MODEL,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_model(page, model: str) -> None:
    page.goto("/")
    expect(page.locator("#model-description")).not_to_be_empty()  # the first model is in
    page.get_by_test_id("model-select").select_option(model)
    field = "#image-field" if model == IMAGE_MODEL else "#text-field"
    expect(page.locator(field)).to_be_visible()


def labels(server: str, model: str) -> list[str]:
    return httpx.get(f"{server}/v1/models/{model}").json()["labels"]


def explain_photo(page, server: str) -> None:
    open_model(page, IMAGE_MODEL)
    page.get_by_test_id("file-input").set_input_files(PHOTO)
    expect(page.get_by_test_id("predictions").locator("li").first).to_contain_text(PHOTO_CLASS)
    target = labels(server, IMAGE_MODEL).index(PHOTO_CLASS)
    expect(page.get_by_test_id("overlay")).to_have_attribute("data-target", str(target))


def canvas_pixels(page) -> np.ndarray:
    url = page.get_by_test_id("overlay").evaluate("canvas => canvas.toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def server_composite(server: str, target: int) -> np.ndarray:
    """The overlay as the server composes it (overlay=true), for the same photo and class."""
    response = httpx.post(
        f"{server}/v1/models/{IMAGE_MODEL}:explain",
        files={"image": (PHOTO.name, PHOTO.read_bytes(), PHOTO_TYPE)},
        data={"targets": str(target)},
        headers={"accept": "image/png"},
    )
    response.raise_for_status()
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), dtype=np.int16)


def button_of(page, label: str):
    return page.get_by_test_id("predictions").get_by_role("button", name=re.compile(label))


def test_a_photo_shows_its_overlay_and_the_right_class(page, server, screenshots):
    explain_photo(page, server)
    first = page.get_by_test_id("predictions").locator("li").first
    expect(first.get_by_role("button")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("elapsed")).to_have_text(re.compile(r"^\d+ ms$"))
    page.screenshot(path=screenshots / "01-photo-desktop.png", full_page=True)
    # The browser scales the layer (sized by the 7x7 map: 224x149) over the photo: what
    # the server's composite shows, to within 8-bit rounding (the API promises 5 of 255).
    target = labels(server, IMAGE_MODEL).index(PHOTO_CLASS)
    shown = canvas_pixels(page)
    photo = np.asarray(Image.open(PHOTO).convert("RGB"), dtype=np.int16)
    assert np.abs(shown - photo).max() > 30  # the heatmap is visible
    assert np.abs(shown - server_composite(server, target)).max() <= 5


def test_the_page_fits_a_phone(browser, server, screenshots):
    context = browser.new_context(viewport=PHONE, base_url=server, is_mobile=True)
    try:
        page = context.new_page()
        explain_photo(page, server)
        page.screenshot(path=screenshots / "01-photo-phone.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()


def test_choosing_another_class_changes_the_overlay(page, server, screenshots):
    explain_photo(page, server)
    before = canvas_pixels(page)
    button_of(page, OTHER_CLASS).click()
    other = labels(server, IMAGE_MODEL).index(OTHER_CLASS)
    expect(page.get_by_test_id("overlay")).to_have_attribute("data-target", str(other))
    expect(button_of(page, OTHER_CLASS)).to_have_attribute("aria-pressed", "true")
    after = canvas_pixels(page)
    assert np.abs(after - before).max() > 30
    assert np.abs(after - server_composite(server, other)).max() <= 5  # the scaled layer
    page.screenshot(path=screenshots / "02-other-class.png", full_page=True)


def test_predictions_work_from_the_keyboard(page, server):
    explain_photo(page, server)
    button_of(page, OTHER_CLASS).focus()
    page.keyboard.press("Enter")
    other = labels(server, IMAGE_MODEL).index(OTHER_CLASS)
    expect(page.get_by_test_id("overlay")).to_have_attribute("data-target", str(other))


def test_every_control_has_a_label(page, server):
    open_model(page, IMAGE_MODEL)
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, select, textarea')]
             .filter(control => control.labels.length === 0).map(control => control.id)"""
    )
    assert unlabelled == []


def test_a_text_model_highlights_its_tokens(page, server, screenshots):
    open_model(page, TEXT_MODEL)
    # A token that looks like markup must show as text, never become an element.
    page.get_by_test_id("text-input").fill("sahom goal <b>vasho</b> gerreas")
    page.get_by_test_id("explain-button").click()
    tokens = page.locator("#tokens .token")
    expect(tokens).to_have_count(4)
    assert tokens.all_text_contents() == ["sahom", "goal", "<b>vasho</b>", "gerreas"]
    assert page.locator("#tokens b").count() == 0
    weights = [float(t.split(": ")[1]) for t in (s.get_attribute("title") for s in tokens.all())]
    assert int(np.argmax(weights)) == 1  # "goal" carries the evidence
    colours = [s.evaluate("s => getComputedStyle(s).backgroundColor") for s in tokens.all()]
    assert len(set(colours)) > 1
    expect(page.get_by_test_id("predictions").locator("li").first).to_contain_text("sports")
    expect(page.get_by_test_id("overlay")).to_be_hidden()
    page.screenshot(path=screenshots / "03-text-tokens.png", full_page=True)


def test_a_real_complaint_is_one_click_away(page, server, screenshots):
    open_model(page, TEXT_MODEL)
    button = page.get_by_test_id("example-button")
    expect(button).to_be_hidden()  # the keywords card has no example
    page.get_by_test_id("model-select").select_option(EXAMPLE_MODEL)
    expect(button).to_be_visible()
    button.click()
    example = EXAMPLE_TEXT.read_text(encoding="utf-8")
    expect(page.get_by_test_id("text-input")).to_have_value(example)
    expect(page.get_by_test_id("predictions").locator("li").first).to_contain_text("Mortgage")
    tokens = page.locator("#tokens .token")
    expect(tokens.first).to_be_visible()
    # The complaint as written (punctuation, line breaks), one span per character token.
    # A browser sends a form's text with CRLF line breaks (the HTML multipart rule), and
    # Keras' filter keeps "\r": two more tokens (it and a space) per line break.
    shown = page.locator("#tokens").text_content()
    assert shown == example.replace("\n", "\r\n")
    read = len(" ".join(text_to_word_sequence(shown, lower=False)))
    from_file = len(" ".join(text_to_word_sequence(example, lower=False)))
    assert tokens.count() == read == from_file + 2 * example.count("\n")  # "\r" and a space
    colours = {s.evaluate("s => getComputedStyle(s).backgroundColor") for s in tokens.all()[:200]}
    assert len(colours) > 10
    page.screenshot(path=screenshots / "04-complaint-example.png", full_page=True)


def test_a_file_that_is_not_an_image_shows_the_error_and_keeps_the_form(page, server, screenshots):
    explain_photo(page, server)
    page.locator("#colormap").select_option("jet")
    expect(page.get_by_test_id("overlay")).to_have_attribute("data-target", re.compile(r"\d"))
    page.get_by_test_id("file-input").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image at all"}
    )
    error = page.get_by_test_id("error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("HTTP 400")
    # Next to the control that caused it, which says so to assistive technology.
    assert error.evaluate("e => e.closest('#image-field') !== null")
    expect(page.get_by_test_id("file-input")).to_have_attribute("aria-invalid", "true")
    # Nothing else is lost: model, options, the explanation shown.
    expect(page.get_by_test_id("model-select")).to_have_value(IMAGE_MODEL)
    expect(page.locator("#colormap")).to_have_value("jet")
    expect(page.get_by_test_id("predictions").locator("li").first).to_contain_text(PHOTO_CLASS)
    expect(page.get_by_test_id("overlay")).to_be_visible()
    page.screenshot(path=screenshots / "04-not-an-image.png", full_page=True)
    # The next good file clears the error.
    page.get_by_test_id("file-input").set_input_files(PHOTO)
    expect(error).to_be_hidden()


def test_a_503_shows_its_retry_after_next_to_the_button(page, server, screenshots):
    problem = {
        "title": "Overloaded",
        "status": 503,
        "detail": f"model {IMAGE_MODEL} is overloaded",
    }
    page.route(
        re.compile(r".*:explain$"),
        lambda route: route.fulfill(
            status=503,
            headers={"retry-after": "7", "content-type": "application/problem+json"},
            body=json.dumps(problem),
        ),
    )
    open_model(page, IMAGE_MODEL)
    page.get_by_test_id("file-input").set_input_files(PHOTO)
    error = page.get_by_test_id("error")
    expect(error).to_contain_text(f"model {IMAGE_MODEL} is overloaded")
    expect(error).to_contain_text("7 s")
    assert error.evaluate("e => e.closest('.actions') !== null")  # by the Explain button
    page.screenshot(path=screenshots / "06-busy-503.png", full_page=True)


def test_the_opacity_slider_redraws_without_a_request(page, server, screenshots):
    explain_photo(page, server)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    full = canvas_pixels(page)
    page.get_by_test_id("opacity").fill("0.3")
    expect(page.locator("#opacity-value")).to_have_text("30%")
    faded = canvas_pixels(page)
    page.screenshot(path=screenshots / "05-opacity-30.png", full_page=True)
    page.get_by_test_id("opacity").fill("0")
    expect(page.locator("#opacity-value")).to_have_text("0%")
    photo = np.asarray(Image.open(PHOTO).convert("RGB"), dtype=np.int16)
    assert np.abs(full - faded).max() > 10
    np.testing.assert_array_equal(canvas_pixels(page), photo)  # no heatmap at 0
    assert requests == []


def run_curl(command: str, folder: Path) -> tuple[str, dict]:
    completed = subprocess.run(
        ["sh", "-c", command + " -o response.json -w '%{http_code}'"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return completed.stdout, json.loads((folder / "response.json").read_text())


def test_copy_as_curl_gives_a_command_that_works(page, server, tmp_path, curl):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    explain_photo(page, server)
    button_of(page, OTHER_CLASS).click()
    other = labels(server, IMAGE_MODEL).index(OTHER_CLASS)
    expect(page.get_by_test_id("overlay")).to_have_attribute("data-target", str(other))
    page.get_by_test_id("copy-curl").click()
    expect(page.locator("#form-status")).to_have_text("Copied the curl command.")
    command = page.locator("#curl-command").input_value()
    assert page.evaluate("navigator.clipboard.readText()") == command
    assert command.startswith(f"curl -sS -X POST '{server}/v1/models/{IMAGE_MODEL}:explain'")
    shutil.copy(PHOTO, tmp_path / PHOTO.name)  # the command names the file the person chose
    status, body = run_curl(command, tmp_path)
    assert status == "200"
    assert body["explanations"][0]["targets"][0]["target"] == other


def test_copy_as_curl_quotes_text_for_the_shell(page, server, tmp_path, curl):
    open_model(page, TEXT_MODEL)
    text = "it's a goal; $(echo no) `and` @file <in"
    page.get_by_test_id("text-input").fill(text)
    page.get_by_test_id("explain-button").click()
    expect(page.locator("#tokens .token").first).to_be_visible()
    page.get_by_test_id("copy-curl").click()
    status, body = run_curl(page.locator("#curl-command").input_value(), tmp_path)
    assert status == "200"
    assert body["explanations"][0]["tokens"] == text.lower().split()


CORS_PAGE = """<!doctype html><meta charset="utf-8"><title>another origin</title>
<p id="out">pending</p>
<script type="module">
const query = new URLSearchParams(location.search);
const out = document.getElementById("out");
try {
  const api = query.get("api");
  const { ApiClient } = await import(`${api}/web/api.js`);
  const photo = await (await fetch(query.get("photo"))).blob();
  const image = new File([photo], query.get("photo"), { type: photo.type });
  const result = await new ApiClient(api).explain(query.get("model"), { image, overlay: "layer" });
  out.textContent = `answered: ${result.explanations[0].targets[0].label}`;
} catch (error) {
  out.textContent = `failed: ${error.message}`;
}
</script>
"""


def test_a_page_on_another_origin_calls_the_api_with_cors(page, server, other_origin, screenshots):
    port, folder = other_origin
    (folder / "cors.html").write_text(CORS_PAGE)
    shutil.copy(PHOTO, folder / PHOTO.name)
    query = f"api={server}&model={IMAGE_MODEL}&photo={PHOTO.name}"
    page.goto(f"http://127.0.0.1:{port}/cors.html?{query}")
    expect(page.locator("#out")).to_have_text(f"answered: {PHOTO_CLASS}")
    page.screenshot(path=screenshots / "07-cors-allowed.png")
    # An origin the server does not list gets nothing (localhost is another origin).
    page.goto(f"http://localhost:{port}/cors.html?{query}")
    expect(page.locator("#out")).to_contain_text("failed:")


def drop_or_paste(page, how: str) -> None:
    """A real File in a DataTransfer, dropped on the drop zone or pasted into the page."""
    page.evaluate(
        """([how, encoded, type, name]) => {
            // Bytes from base64: the page's CSP would refuse fetch() of a data: URL.
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const blob = new Blob([bytes], { type });
            const data = new DataTransfer();
            data.items.add(new File([blob], name, { type }));
            const options = { bubbles: true, cancelable: true };
            const event = how === "drop"
              ? new DragEvent("drop", { dataTransfer: data, ...options })
              : new ClipboardEvent("paste", { clipboardData: data, ...options });
            (how === "drop" ? document.getElementById("drop-zone") : document).dispatchEvent(event);
        }""",
        [how, base64.b64encode(PHOTO.read_bytes()).decode(), PHOTO_TYPE, "dropped" + PHOTO.suffix],
    )


@pytest.mark.parametrize("how", ["drop", "paste"])
def test_a_dropped_or_pasted_image_is_explained(page, server, how):
    open_model(page, IMAGE_MODEL)
    drop_or_paste(page, how)
    expect(page.get_by_test_id("predictions").locator("li").first).to_contain_text(PHOTO_CLASS)
    # The file input holds it too: the form is the one source of the request.
    assert page.get_by_test_id("file-input").evaluate("input => input.files[0].name") == (
        "dropped" + PHOTO.suffix
    )


def test_a_chosen_layer_is_sent_and_shown(page, server):
    explain_photo(page, server)
    layers = [
        layer["name"]
        for layer in httpx.get(f"{server}/v1/models/{IMAGE_MODEL}").json()["candidate_layers"]
    ]
    chosen = layers[len(layers) // 2]
    page.get_by_test_id("layer-select").select_option(chosen)
    expect(page.locator("#result-caption")).to_contain_text(f"layer {chosen}.")
    assert f"'layer={chosen}'" in page.locator("#curl-command").input_value()


def with_methods(page, server, methods):
    """GET /v1/models/{id} answered with `methods` set (or removed when None)."""

    def answer(route):
        detail = httpx.get(route.request.url).json()
        detail.pop("methods", None)
        if methods is not None:
            detail["methods"] = methods
        route.fulfill(json=detail)

    page.route(re.compile(rf".*/v1/models/{IMAGE_MODEL}$"), answer)


def test_the_method_select_shows_only_when_the_model_lists_methods(page, server):
    with_methods(page, server, None)
    open_model(page, IMAGE_MODEL)
    expect(page.get_by_test_id("method-select")).to_be_hidden()


def test_a_listed_method_is_offered_and_sent(page, server):
    with_methods(page, server, ["gradcam", "gradcam++"])
    open_model(page, IMAGE_MODEL)
    select = page.get_by_test_id("method-select")
    expect(select).to_be_visible()
    page.get_by_test_id("file-input").set_input_files(PHOTO)
    expect(page.get_by_test_id("explain-button")).to_have_attribute("aria-busy", "false")
    with page.expect_request(re.compile(r".*:explain$")) as sent:
        select.select_option("gradcam++")
    body = sent.value.post_data_buffer or b""
    assert b'name="method"\r\n\r\ngradcam++\r\n' in body


def test_the_form_survives_a_reload(page, server):
    open_model(page, TEXT_MODEL)
    page.get_by_test_id("text-input").fill("storm sahom")
    page.reload()
    expect(page.get_by_test_id("model-select")).to_have_value(TEXT_MODEL)
    expect(page.get_by_test_id("text-input")).to_have_value("storm sahom")


def test_a_chosen_layer_is_kept_per_model_across_a_reload(page, server):
    open_model(page, IMAGE_MODEL)
    layers = httpx.get(f"{server}/v1/models/{IMAGE_MODEL}").json()["candidate_layers"]
    chosen = layers[1]["name"]
    page.get_by_test_id("layer-select").select_option(chosen)
    page.get_by_test_id("model-select").select_option(TEXT_MODEL)
    expect(page.get_by_test_id("layer-select")).to_have_value("")  # that model's default
    page.get_by_test_id("model-select").select_option(IMAGE_MODEL)
    expect(page.get_by_test_id("layer-select")).to_have_value(chosen)
    page.reload()
    expect(page.get_by_test_id("model-select")).to_have_value(IMAGE_MODEL)
    expect(page.get_by_test_id("layer-select")).to_have_value(chosen)


def test_a_one_output_model_shows_its_class_and_the_other_side(page, server, screenshots):
    """A sigmoid model (one output, one label): its class and "not <class>" (1 - score).
    Below 0.5 the page explains the other side, as ELI5 does: counterfactual=true."""
    detail = httpx.get(f"{server}/v1/models/{TEXT_MODEL}").json()
    one_output = {**detail, "labels": ["positive"], "n_classes": 1}
    page.route(
        re.compile(rf".*/v1/models/{TEXT_MODEL}$"), lambda route: route.fulfill(json=one_output)
    )
    sent: list[bool] = []

    def as_one_output(route) -> None:
        sent.append('name="counterfactual"' in (route.request.post_data or ""))
        response = route.fetch()
        body = response.json()
        body["predictions"] = [[0.2]]
        for target in body["explanations"][0]["targets"]:
            target.update(target=0, label="positive", score=0.2)
        route.fulfill(response=response, json=body)

    page.route(re.compile(r".*:explain$"), as_one_output)
    open_model(page, TEXT_MODEL)
    page.get_by_test_id("text-input").fill("sahom goal vasho")
    page.get_by_test_id("explain-button").click()
    caption = page.locator("#result-caption")
    expect(caption).to_contain_text("Class not positive (score 80.0%")
    buttons = page.get_by_test_id("predictions").get_by_role("button")
    expect(buttons).to_have_text(
        [re.compile(r"not positive\s*80\.0%"), re.compile(r"^positive\s*20\.0%")]
    )
    expect(buttons.first).to_have_attribute("aria-pressed", "true")
    assert sent == [False, True]  # the output first, then (below 0.5) the other side
    page.screenshot(path=screenshots / "09-one-output-model.png", full_page=True)

    buttons.nth(1).click()  # the class itself: the output, no counterfactual
    expect(caption).to_contain_text("Class positive (score 20.0%)")
    expect(buttons.nth(1)).to_have_attribute("aria-pressed", "true")
    assert sent[-1] is False and len(sent) == 3
