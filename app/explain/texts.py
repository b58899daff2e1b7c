"""Explaining texts: tokens and ids in, the maps resized to the tokens, spans and HTML out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.targets.results import CamBatch
from app.errors import InvalidInput
from app.explain.options import ExplainOptions, TextInput
from app.explain.results import (
    ExplainResult,
    ExplanationResult,
    WeightedSpansResult,
    new_result,
    target_result,
)
from app.explain.run import require_task, run_gradcam
from app.preprocess.text import (
    TextSpec,
    TokenSequence,
    check_ids,
    ids_to_tokens,
    pad_sequence,
    text_sequence,
    tokens_to_ids,
)
from app.registry.served import ServedModel
from app.render.html import highlight_html
from app.render.text_spans import (
    Range,
    resize_to_tokens,
    source_spans,
    unpadded_slice,
    weighted_spans,
)


@dataclass(frozen=True)
class TextSource:
    """A text as sent and, per padded position, the characters its token stands for."""

    text: str
    ranges: list[Range | None]  # None: padding


@dataclass
class PreparedTexts:
    sequences: list[tuple[list[str], list[int]]]  # padded tokens and ids per sample
    inputs: np.ndarray  # (B, T) ids
    padding: str
    sources: list[TextSource | None]  # per sample: spans go on the text (word-filtered models)


def explain_texts(
    served: ServedModel, inputs: list[TextInput], options: ExplainOptions
) -> ExplainResult:
    """Synchronous explain of texts, straight on the engine (no batching)."""
    prepared = prepare_texts(served, inputs, options)
    gradcam, cams = run_gradcam(served, prepared.inputs, options)
    return render_texts(served, gradcam.layer_name, prepared, cams, options)


def prepare_texts(
    served: ServedModel, inputs: list[TextInput], options: ExplainOptions
) -> PreparedTexts:
    require_task(served, "text")
    if options.metrics:
        raise InvalidInput("faithfulness metrics are computed for image models only")
    spec = served.text_spec
    assert spec is not None
    padding = options.padding or spec.padding
    read = [read_instance(item, spec, options.max_tokens) for item in inputs]
    sequences = [pad_sequence(sequence.tokens, sequence.ids, spec, padding) for sequence in read]
    if len({len(ids) for _, ids in sequences}) > 1:
        raise InvalidInput("instances of a variable-length model must have the same length")
    ids = np.array([ids for _, ids in sequences], dtype=served.input_dtype)
    sources = [
        text_source(item, sequence, len(padded), padding)
        for item, sequence, (padded, _) in zip(inputs, read, sequences, strict=True)
    ]
    return PreparedTexts(sequences, ids, padding, sources)


def text_source(
    item: TextInput, sequence: TokenSequence, length: int, padding: str
) -> TextSource | None:
    if item.text is None or sequence.ranges is None:
        return None
    pads: list[Range | None] = [None] * (length - len(sequence.ranges))
    ranges = [*sequence.ranges, *pads] if padding == "post" else [*pads, *sequence.ranges]
    return TextSource(item.text, ranges)


def render_texts(
    served: ServedModel,
    layer: str,
    prepared: PreparedTexts,
    cams: CamBatch,
    options: ExplainOptions,
) -> ExplainResult:
    spec = served.text_spec
    assert spec is not None
    result = new_result(served, layer, cams, options)
    pad_value = spec.pad_id if options.pad_value is None else options.pad_value
    for index, (tokens, ids) in enumerate(prepared.sequences):
        explanation = ExplanationResult()
        source = prepared.sources[index]
        keep = unpadded_slice(tokens, ids, pad_value=pad_value, padding=prepared.padding)
        kept = tokens[keep]
        for row in np.flatnonzero(cams.sample == index):
            kind = options.interpolation_kind
            weights = resize_to_tokens(cams.heatmaps[row], len(tokens), kind)[keep]
            target = target_result(served, cams, int(row), weights.tolist())
            if source is None:
                document, spans = weighted_spans(kept, weights)
            else:
                document, spans = source.text, source_spans(kept, source.ranges[keep], weights)
            target.weighted_spans = WeightedSpansResult(document, spans)
            target.html = highlight_html(document, spans)
            explanation.tokens = kept
            explanation.targets.append(target)
        result.explanations.append(explanation)
    return result


def read_instance(item: TextInput, spec: TextSpec, max_tokens: int) -> TokenSequence:
    """An instance's tokens and ids, cut to length when the model truncates."""
    if item.text is None:
        return TokenSequence(*tokens_and_ids(item, spec)).truncated(spec)
    sequence = text_sequence(item.text, spec).truncated(spec)
    if len(sequence.tokens) > max_tokens:
        raise InvalidInput(f"the text has {len(sequence.tokens)} tokens; the limit is {max_tokens}")
    return sequence


def tokens_and_ids(item: TextInput, spec: TextSpec) -> tuple[list[str], list[int]]:
    if item.ids is not None:
        return ids_to_tokens(item.ids, spec), list(item.ids)
    tokens = list(item.tokens or [])
    if item.doc is None:
        return tokens_to_ids(tokens, spec)
    if len(item.doc) != len(tokens):
        raise InvalidInput(f"tokens has {len(tokens)} entries but doc has {len(item.doc)} ids")
    check_ids(item.doc, spec)
    return tokens, list(item.doc)
