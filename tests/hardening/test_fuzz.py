"""Property tests: arbitrary bytes and JSON never make the service fail or hang.

Every answer is a 2xx or a 4xx problem+json: never a 5xx, never an exception, never a
hang (each test is bounded by pytest-timeout; a single request by the deadline below).
"""

import io
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from app.api.schemas import ExplainParameters
from app.errors import ExplainError
from app.preprocess.image import ImageLimits, decode_image
from tests.hardening.conftest import KEYWORDS, TINY, encode

FUZZ = settings(
    max_examples=120,
    deadline=None,  # a first trace can take a moment; the hang guard is below
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no .hypothesis folder in the checkout; failures print their input
)
SLOWEST_ANSWER = 5.0  # seconds; far above any honest answer of the tiny models


def sample_files() -> list[bytes]:
    picture = Image.effect_noise((24, 16), 60).convert("RGB")
    files = [encode(picture, fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF")]
    exif = Image.Exif()
    exif[0x0112] = 6
    files.append(encode(picture, "JPEG", exif=exif.tobytes()))
    files.append(encode(picture.convert("RGBA"), "PNG"))
    return files


SAMPLES = sample_files()
MAGIC = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\0\0\0\0WEBPVP8 ", b"BM", b"II*\0"]


@st.composite
def mutated_files(draw) -> bytes:
    """A valid image with some bytes changed and maybe cut short: deep into the decoders."""
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


upload_bytes = st.one_of(
    st.binary(max_size=2048),
    st.tuples(st.sampled_from(MAGIC), st.binary(max_size=1024)).map(b"".join),
    mutated_files(),
)


def assert_no_server_error(response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code


def timed_post(client, url: str, **kwargs):
    started = time.perf_counter()
    response = client.post(url, **kwargs)
    assert time.perf_counter() - started < SLOWEST_ANSWER
    return response


@pytest.mark.timeout(120)
@FUZZ
@given(data=upload_bytes)
def test_the_decoder_returns_rgb_or_a_4xx_error(data):
    try:
        image = decode_image(data, ImageLimits())
    except ExplainError as error:
        assert 400 <= error.status < 500
    else:
        assert image.mode == "RGB" and image.width > 0 and image.height > 0


@pytest.mark.timeout(120)
@FUZZ
@given(data=upload_bytes, content_type=st.sampled_from(["image/png", "image/jpeg", "image/gif"]))
def test_arbitrary_upload_bytes_get_an_answer_or_a_4xx_problem(client, data, content_type):
    raw = timed_post(client, TINY, content=data, headers={"content-type": content_type})
    assert_no_server_error(raw)
    form = timed_post(client, TINY, files={"image": ("x", data, content_type)})
    assert_no_server_error(form)
    assert raw.status_code == form.status_code  # the encodings agree on what is wrong


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: json.dumps writes them as literals
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)
PARAMETER_NAMES = list(ExplainParameters.model_fields)
instances = st.dictionaries(
    st.sampled_from(["text", "tokens", "doc", "image", "b64"]),
    json_values | st.fixed_dictionaries({"b64": st.sampled_from(["", "AAAA", "iVBORw0K", "*"])}),
    max_size=3,
)
near_requests = st.fixed_dictionaries(
    {"instances": st.lists(instances, max_size=4) | json_values},
    optional={
        "parameters": st.dictionaries(st.sampled_from(PARAMETER_NAMES), json_values, max_size=4)
    },
)


@pytest.mark.timeout(120)
@FUZZ
@given(body=json_values | near_requests, url=st.sampled_from([TINY, KEYWORDS]))
def test_arbitrary_json_gets_an_answer_or_a_4xx_problem(client, body, url):
    content = json.dumps(body).encode()
    response = timed_post(
        client, url, content=content, headers={"content-type": "application/json"}
    )
    assert_no_server_error(response)


@pytest.mark.timeout(120)
@FUZZ
@given(body=st.binary(max_size=512))
def test_arbitrary_bytes_as_json_get_a_4xx_problem(client, body):
    response = timed_post(
        client, KEYWORDS, content=body, headers={"content-type": "application/json"}
    )
    assert_no_server_error(response)


form_fields = st.dictionaries(
    st.sampled_from([*PARAMETER_NAMES, "text", "image"]) | st.text(min_size=1, max_size=8),
    st.text(max_size=30),
    max_size=6,
)


@pytest.mark.timeout(120)
@FUZZ
@given(fields=form_fields)
def test_arbitrary_form_fields_and_query_parameters_get_a_4xx_problem_at_worst(client, fields):
    png = SAMPLES[0]
    form = timed_post(client, TINY, files={"image": ("a.png", png, "image/png")}, data=fields)
    assert_no_server_error(form)
    text_form = timed_post(client, KEYWORDS, files={"text": (None, "goal")}, data=fields)
    assert_no_server_error(text_form)
    query = timed_post(
        client, TINY, content=png, headers={"content-type": "image/png"}, params=fields
    )
    assert_no_server_error(query)


header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)


@pytest.mark.timeout(120)
@FUZZ
@given(content_type=header_values, body=st.binary(max_size=64))
def test_arbitrary_content_types_get_a_4xx_problem_at_worst(client, content_type, body):
    headers = {"content-type": content_type.strip().encode("latin-1")}
    assert_no_server_error(timed_post(client, TINY, content=body, headers=headers))


def test_the_fuzzers_reach_valid_requests_too(client):
    # The strategies above are not only garbage: a sample decodes and is explained.
    response = client.post(TINY, files={"image": ("a.png", SAMPLES[0], "image/png")})
    assert response.status_code == 200
    assert Image.open(io.BytesIO(SAMPLES[1])).format == "JPEG"
