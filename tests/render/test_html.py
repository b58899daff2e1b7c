from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.render.html import highlight_html
from app.render.text_spans import WeightedSpan, weighted_spans

Oracle = Callable[[str, Sequence[WeightedSpan]], str]


@pytest.fixture(scope="module")
def eli5_html() -> Oracle:
    """ELI5's highlighter (imported lazily: eli5 pulls in TensorFlow).

    ELI5 divides a span's weight by the number of spans that share its feature
    name, which suits bag-of-words features but not Grad-CAM, where every token
    occurrence has its own weight. Feature names are not rendered, so giving each
    span a unique name makes ELI5 weigh occurrences separately, as we do.
    """
    from eli5.base import DocWeightedSpans, TargetExplanation, WeightedSpans
    from eli5.formatters.html import render_targets_weighted_spans

    def render(document: str, spans: Sequence[WeightedSpan]) -> str:
        unique = [(f"{i}:{token}", ranges, w) for i, (token, ranges, w) in enumerate(spans)]
        doc_spans = DocWeightedSpans(document, spans=unique)
        target = TargetExplanation(0, weighted_spans=WeightedSpans([doc_spans]))
        [rendered] = render_targets_weighted_spans([target], preserve_density=None)
        assert rendered is not None
        return rendered

    return render


def _html(tokens: list[str], weights: list[float]) -> str:
    return highlight_html(*weighted_spans(tokens, np.array(weights)))


def test_two_tokens_by_hand() -> None:
    # a: rel 0.5 -> lightness 1 - 0.4 * 0.5**0.7 = 75.38%, opacity 0.8 + 0.2 * 0.5.
    assert _html(["a", "b"], [0.5, -1.0]) == (
        '<span style="background-color: hsl(120, 100.00%, 75.38%); opacity: 0.90" '
        'title="0.500">a</span>'
        '<span style="opacity: 0.80"> </span>'
        '<span style="background-color: hsl(0, 100.00%, 60.00%); opacity: 1.00" '
        'title="-1.000">b</span>'
    )


def test_relative_weight_sets_lightness_and_opacity() -> None:
    # 0.2 of a 0.8 maximum: rel 0.25, lightness 1 - 0.4 * 0.25**0.7 = 84.84%.
    assert 'hsl(120, 100.00%, 84.84%); opacity: 0.85" title="0.200"' in _html(
        ["x", "y"], [0.2, 0.8]
    )
    # The reference's "89.21%, opacity 0.83" is rel 0.2 / 1.3 (not / 0.8).
    assert 'hsl(120, 100.00%, 89.21%); opacity: 0.83" title="0.200"' in _html(
        ["x", "y"], [0.2, 1.3]
    )


def test_all_zero_weights_are_plain_spans() -> None:
    assert _html(["a", "b"], [0.0, 0.0]) == '<span style="opacity: 0.80">a b</span>'


def test_tiny_weights_count_as_zero() -> None:
    assert _html(["a"], [1e-9]) == '<span style="opacity: 0.80">a</span>'


def test_equal_neighbours_share_one_span() -> None:
    html = _html(["a", "b", " ", "c"], [0.5, 0.5, 0.5, 1.0])
    assert html.count("<span") == 2
    assert '"0.500">ab </span>' in html


def test_text_is_escaped() -> None:
    html = _html(["<b>", "&", '"q"', "it's"], [1.0, 0.5, -0.5, 0.0])
    assert ">&lt;b&gt;</span>" in html
    assert ">&amp;</span>" in html
    assert ">&quot;q&quot;</span>" in html
    assert "it&#x27;s</span>" in html
    assert "<b>" not in html


def test_empty_document() -> None:
    assert highlight_html("", []) == ""


def test_overlapping_spans_add_up() -> None:
    spans: list[WeightedSpan] = [("ab", [(0, 2)], 0.25), ("b", [(1, 2)], 0.25)]
    html = highlight_html("ab", spans)
    assert 'title="0.250">a</span>' in html and 'title="0.500">b</span>' in html


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tokens", "weights"),
    [
        (["good", "film", "<pad>"], [0.9, 0.2, 0.0]),
        (["<b>", "a&b", '"q"', "it's"], [0.2, -0.8, 0.0, 1e-9]),
        (["the", "the", "the"], [0.3, -0.3, 0.3]),
        (list("hi there"), [0.1, 0.1, 0.0, -0.4, -0.4, 0.5, 0.2, 0.2]),
        (["a", "b", "c"], [0.0, 0.0, 0.0]),
        (["only"], [-2.5]),
        (["x", "y"], [1e-9, 2e-9]),
    ],
)
def test_matches_eli5(eli5_html: Oracle, tokens: list[str], weights: list[float]) -> None:
    document, spans = weighted_spans(tokens, np.array(weights))
    assert highlight_html(document, spans) == eli5_html(document, spans)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="ab<&\"' é", min_size=1, max_size=4),
            st.one_of(st.just(0.0), st.floats(-5, 5, allow_nan=False)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_matches_eli5_on_random_tokens(
    eli5_html: Oracle, tokens_and_weights: list[tuple[str, float]]
) -> None:
    tokens = [token for token, _ in tokens_and_weights]
    document, spans = weighted_spans(tokens, np.array([w for _, w in tokens_and_weights]))
    assert highlight_html(document, spans) == eli5_html(document, spans)


@pytest.mark.slow
def test_eli5_would_split_a_repeated_tokens_weight() -> None:
    """Why the oracle gets unique feature names: ELI5 itself halves repeated tokens."""
    from eli5.base import DocWeightedSpans, TargetExplanation, WeightedSpans
    from eli5.formatters.html import render_targets_weighted_spans

    document, spans = weighted_spans(["ok", "ok"], np.array([0.5, 0.5]))
    target = TargetExplanation(
        0, weighted_spans=WeightedSpans([DocWeightedSpans(document, spans=spans)])
    )
    [eli5_rendered] = render_targets_weighted_spans([target], preserve_density=None)
    assert eli5_rendered is not None and 'title="0.250"' in eli5_rendered
    assert 'title="0.500"' in highlight_html(document, spans)
