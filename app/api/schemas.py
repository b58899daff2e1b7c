"""Request and response schemas of the HTTP API (`<Thing>Request` / `<Thing>Response`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    Tag,
    model_validator,
)
from pydantic.config import JsonDict

ScoreMode = Literal["logit", "output"]
InterpolationKind = Literal[
    "linear", "nearest", "nearest-up", "zero", "slinear", "quadratic", "cubic", "previous", "next"
]
OverlayFormat = Literal["auto", "png", "jpeg", "webp"]
# The engine's tables (app.engine.methods, app.engine.evaluation.faithfulness), spelled out here so
# the schemas need no TensorFlow; a test checks they agree.
MethodName = Literal[
    "gradcam",
    "gradcam++",
    "xgradcam",
    "hirescam",
    "gradcam-elementwise",
    "layercam",
    "eigengradcam",
    "eigencam",
    "scorecam",
    "ablationcam",
    "kpcacam",
    "fem",
    "shapleycam",
    "finercam",
    "attention-rollout",
    "attention-gradcam",
    "saliency",
    "smoothgrad",
    "integrated-gradients",
    "guided-backprop",
    "guided-gradcam",
    "fullgrad",
    "occlusion",
    "rise",
]
MetricName = Literal["deletion", "insertion", "drop", "increase"]
KpcaKernel = Literal["linear", "poly", "rbf", "sigmoid", "cosine"]  # scikit-learn KernelPCA's
MAX_TARGETS = 64
MAX_LAYERS = 8
MAX_COMPARISON_RANK = 64
MAX_METRIC_STEPS = 64
MAX_PIXEL_COPIES = 64  # smoothgrad samples / integrated-gradients steps (one pass each)
MAX_RISE_MASKS = 8000  # a request's forwards: bounded like its other work


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, from_attributes=True)


class MaskData(Schema):
    b64: str = Field(description="standard base64 of a PNG file")


class TargetObject(Schema):
    """A target as an object (docs/targets.md): a class of a named output, a region of a
    segmentation (`mask`), or a detection (`box`)."""

    class_: StrictInt | None = Field(
        default=None, alias="class", ge=0, description="class index; null: the top one"
    )
    output: str | None = Field(default=None, description="the output explained; null: default")
    mask: MaskData | None = Field(
        default=None,
        description="segmentation: a PNG at the uploaded image's size, non-zero = inside; "
        "without it the region is the pixels predicted as the class",
    )
    box: tuple[float, float, float, float] | None = Field(
        default=None, description="detection: [x0, y0, x1, y1] in the uploaded image's pixels"
    )

    @model_validator(mode="after")
    def mask_or_box(self) -> Self:
        if self.mask is not None and self.box is not None:
            raise ValueError("a target has a mask or a box, not both")
        return self


def target_kind(value: object) -> str | None:
    """Which kind of target an item is: "index", "object", or None (refused at the item)."""
    if isinstance(value, dict | TargetObject):
        return "object"
    return "index" if isinstance(value, int) and not isinstance(value, bool) else None


TargetItem = Annotated[
    Annotated[StrictInt, Tag("index")] | Annotated[TargetObject, Tag("object")],
    Discriminator(
        target_kind,
        custom_error_type="target",
        custom_error_message="a target is a class index (an integer) or a target object",
    ),
]


class ExplainParameters(Schema):
    """Explanation options; every field is optional."""

    targets: Annotated[list[TargetItem], Field(min_length=1, max_length=MAX_TARGETS)] | None = (
        Field(
            default=None,
            description="class indices or target objects to explain; null: each sample's "
            "default targets (its top prediction for a classifier; docs/targets.md)",
        )
    )
    layer: (
        StrictInt
        | str
        | Annotated[list[StrictInt | str], Field(min_length=1, max_length=MAX_LAYERS)]
        | None
    ) = Field(
        default=None,
        description="target layer: name, nested path (outer/inner) or index; null: automatic. "
        "A list of several (images): each layer's map relu'd, min-max normalised and resized "
        "to the input, averaged, min-max normalised again (pytorch-grad-cam's target_layers); "
        "the heatmap is then at the input's resolution",
    )
    relu: bool = Field(default=True, description="keep only what raises the score")
    counterfactual: bool = Field(default=False, description="explain what lowers the score")
    score: ScoreMode | None = Field(
        default=None, description="differentiate the logit or the output; null: model default"
    )
    method: MethodName = Field(default="gradcam", description="CAM method")
    max_channels: int | None = Field(
        default=None,
        ge=1,
        description="scorecam/ablationcam: channels perturbed, those of largest spatial std "
        "(at most the layer's; the server caps it); null: 32",
    )
    eigen_smooth: bool = Field(
        default=False,
        description="pytorch-grad-cam's eigen_smooth: the first principal component of the "
        "method's per-channel terms (activations x weights) instead of their sum, oriented "
        "as eigencam; for the CAM methods that sum such terms",
    )
    aug_smooth: bool = Field(
        default=False,
        description="pytorch-grad-cam's aug_smooth (images): the mean of six maps, for the "
        "input flipped or not x multiplied by 0.9, 1, 1.1, each min-max normalised, resized "
        "to the input and flipped back; the heatmap is at the input's resolution",
    )
    kpca_kernel: KpcaKernel | None = Field(
        default=None, description="kpcacam: the KernelPCA kernel; null: sigmoid"
    )
    kpca_gamma: float | None = Field(
        default=None, gt=0, description="kpcacam: the kernel's gamma; null: 1 / channels"
    )
    fem_k: float | None = Field(
        default=None, description="fem: the k-sigma threshold of a channel; null: 2"
    )
    finer_alpha: float | None = Field(
        default=None, description="finercam: the weight of the compared classes; null: 1"
    )
    finer_comparison: (
        Annotated[
            list[Annotated[StrictInt, Field(ge=1, le=MAX_COMPARISON_RANK)]],
            Field(min_length=1, max_length=MAX_COMPARISON_RANK),
        ]
        | None
    ) = Field(
        default=None,
        description="finercam: the classes compared, as ranks of similarity to the target "
        "(1: the class whose score is closest); null: [1, 2, 3]",
    )
    metrics: Annotated[list[MetricName], Field(min_length=1, max_length=4)] | None = Field(
        default=None, description="faithfulness scores to compute for each map (images only)"
    )
    metric_steps: int = Field(
        default=16, ge=1, le=MAX_METRIC_STEPS, description="deletion/insertion steps"
    )
    samples: int = Field(
        default=20, ge=1, le=MAX_PIXEL_COPIES, description="smoothgrad: noisy copies averaged"
    )
    noise: float = Field(
        default=0.2, ge=0.0, le=10.0, description="smoothgrad: sigma / (max - min) of the input"
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="smoothgrad: noise seed (null: random); rise: masks seed (null: 0)",
    )
    steps: int = Field(
        default=32,
        ge=2,
        le=MAX_PIXEL_COPIES,
        description="integrated-gradients: path points (Captum's riemann_trapezoid)",
    )
    baseline: Literal["black", "white", "blur"] | None = Field(
        default=None,
        description="integrated-gradients on images: the baseline image; null: black "
        "(text models: token id 0)",
    )
    occlusion_window: int | None = Field(
        default=None, ge=1, description="occlusion: black window side, px; null: input side / 8"
    )
    occlusion_stride: int | None = Field(
        default=None, ge=1, description="occlusion: step between windows, px; null: window / 2"
    )
    rise_masks: int = Field(
        default=2000, ge=1, le=MAX_RISE_MASKS, description="rise: random masks averaged"
    )
    rise_cells: int = Field(
        default=7, ge=2, le=64, description="rise: a mask's grid is rise_cells x rise_cells"
    )
    colormap: str | None = Field(default=None, description="overlay colormap; null: server default")
    alpha_limit: float | None = Field(
        default=None, ge=0.0, le=1.0, description="maximum overlay opacity; null: server default"
    )
    overlay: bool | Literal["layer"] = Field(
        default=True,
        description=(
            "true: the heatmap laid over the image (data URL); false: none; 'layer': the "
            "coloured heatmap alone, a transparent PNG or WebP at the image's aspect, for a "
            "client to scale over the image it already shows (at most 32 px per heatmap cell "
            "along its longest side: the map is smooth, more pixels add bytes, not detail)"
        ),
    )
    overlay_format: OverlayFormat = Field(
        default="auto",
        description=(
            "encoding of the overlay: 'auto' sends a JPEG (quality 80) for a JPEG upload, "
            "a photo, and a PNG otherwise and for overlay='layer'; 'png' is lossless, "
            "pixel for pixel ELI5's format_as_image; 'jpeg' and 'webp' are lossy. An "
            "Accept: image/* header picks the format itself"
        ),
    )
    pad_value: StrictInt | str | None = Field(
        default=None, description="text: id or token that marks padding; null: the model's pad"
    )
    padding: Literal["post", "pre"] | None = Field(
        default=None, description="text: side holding the padding; null: the model's side"
    )
    interpolation_kind: InterpolationKind = Field(
        default="linear", description="text: scipy interp1d kind mapping the map to tokens"
    )
    draw_targets: bool = Field(
        default=False,
        description="overlays: outline each target's region (segmentation) or box (detection)",
    )


class ImageData(Schema):
    b64: str = Field(description="standard base64 of a JPEG, PNG, WebP or GIF file")


# Instance fields whose value is a list: `{"tokens": [...]}` is text, not a named tensor.
LIST_FIELDS = ("tokens", "doc", "ids", "tensor")


class Instance(Schema):
    """One sample: an image (encoded, or as the model's input tensor), free text, tokens,
    tokens with their ids (`doc`), or ids alone."""

    image: ImageData | None = None
    tensor: list[Any] | None = Field(
        default=None,
        description="an image as the model's input tensor: height x width x channels "
        "numbers after the card's scaling, what :predict takes (KServe V1's instance "
        'as nested lists; a bare list or {"<input name>": [...]} means this)',
    )
    tensor_key: str | None = Field(
        default=None, description='the input name `{"<input>": tensor}` gave: the model\'s'
    )
    text: str | None = None
    tokens: list[str] | None = None
    doc: list[StrictInt] | None = None
    ids: list[StrictInt] | None = Field(
        default=None, description="token ids alone; the tokens are read from the vocabulary"
    )

    @model_validator(mode="before")
    @classmethod
    def kserve_image(cls, data: object) -> object:
        """A KServe V1 / TF Serving instance `{"b64": ...}` is an image; nested lists, bare
        or as `{"<input name>": [...]}`, are an image tensor."""
        if isinstance(data, dict) and set(data) == {"b64"}:
            return {"image": data}
        if isinstance(data, list):
            return {"tensor": data}
        if isinstance(data, dict) and len(data) == 1:
            ((key, value),) = data.items()
            if isinstance(value, list) and key not in LIST_FIELDS:
                return {"tensor": value, "tensor_key": key}
        return data

    @model_validator(mode="after")
    def one_kind(self) -> Self:
        kinds = [self.image, self.tensor, self.text, self.tokens, self.ids]
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError("an instance has exactly one of image, tensor, text, tokens or ids")
        if self.tensor_key is not None and self.tensor is None:
            raise ValueError("tensor_key names the input of a tensor")
        if self.doc is not None and self.tokens is None:
            raise ValueError("doc (token ids) needs the matching tokens")
        return self


class ExplainRequest(Schema):
    instances: list[Instance] = Field(min_length=1)
    parameters: ExplainParameters = Field(default_factory=ExplainParameters)


class ImageSize(Schema):
    width: int
    height: int


class WeightedSpans(Schema):
    document: str
    spans: list[tuple[str, list[tuple[int, int]], float]]


class TargetExplanation(Schema):
    target: int
    label: str | None
    score: float = Field(description="model output at the target")
    scale: float = Field(description="max |raw map|: heatmap x (scale + 1e-7) gives raw values")
    heatmap: list[list[float]] | list[float]
    overlay: str | None = Field(default=None, description="data URL of the overlay image")
    weighted_spans: WeightedSpans | None = None
    html: str | None = None
    metrics: dict[MetricName, float] | None = Field(
        default=None, description="faithfulness scores, when asked for"
    )
    completeness_gap: float | None = Field(
        default=None,
        description="integrated-gradients: sum of the attribution - (score(input) - "
        "score(baseline)), the score being the one differentiated",
    )
    output: str | None = Field(default=None, description="the output explained")
    kind: Literal["class", "region", "box"] = Field(
        default="class", description="what the target was: a class, a region, a box"
    )
    box: list[float] | None = Field(
        default=None, description="box: the predicted box explained, image pixels x0,y0,x1,y1"
    )
    iou: float | None = Field(default=None, description="box: its IoU with the box asked for")
    region_pixels: int | None = Field(
        default=None, description="region: its cells at the output's grid"
    )


class Detection(Schema):
    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, from_attributes=True, populate_by_name=True
    )

    box: list[float] = Field(description="[x0, y0, x1, y1] in the uploaded image's pixels")
    class_: int = Field(alias="class")
    label: str | None
    score: float = Field(description="the class's probability")


class Explanation(Schema):
    image: ImageSize | None = None
    tokens: list[str] | None = None
    targets: list[TargetExplanation]
    segmentation: list[list[int]] | None = Field(
        default=None, description="segmentation: the argmax class map at the output's grid"
    )
    detections: list[Detection] | None = Field(
        default=None, description="detection: the detections after non-maximum suppression"
    )


class ExplainResponse(Schema):
    model_id: str
    model_version: str
    method: MethodName = "gradcam"
    layer: str
    predictions: list[list[float]]
    explanations: list[Explanation]
    output: str | None = Field(default=None, description="the output explained")
    outputs: dict[str, list[list[float]]] | None = Field(
        default=None, description="a model with several outputs: each (batch, n) output"
    )


class ModelSummary(Schema):
    id: str
    version: str
    task: Literal["image", "text"]
    ready: bool


class ModelListResponse(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"models": [{"id": "shapes", "version": "1", "task": "image", "ready": True}]}
            ]
        }
    )

    models: list[ModelSummary]


class LayerInfo(Schema):
    name: str
    index: int | None
    output_shape: list[int | None]
    token_grid: list[int] | None = Field(
        default=None, description="a (batch, tokens, channels) layer: its patch grid [h, w]"
    )
    prefix_tokens: int | None = Field(
        default=None, description="a token layer: the leading tokens dropped (class, ...)"
    )


class VersionStatus(Schema):
    error_code: Literal["OK", "UNKNOWN"] = "OK"
    error_message: str = ""


class ModelVersionStatus(Schema):
    version: str
    state: Literal["LOADING", "AVAILABLE", "END"]
    serving: bool = Field(description="requests that name no version go to this one")
    status: VersionStatus


class SavedModelInfo(Schema):
    """How a SavedModel is driven: present only for a model loaded from a SavedModel."""

    signature: str
    input: Literal["image", "encoded_image", "token_ids"] = Field(
        description="float pixels, encoded image files decoded by the graph, or token ids"
    )
    input_tensor: str
    output_tensor: str
    logit_tensor: str = Field(
        description="what score = logit differentiates: the input of the graph's final "
        "Softmax/Sigmoid, or the output itself when it has none"
    )
    decoded_tensor: str | None = Field(
        default=None, description="encoded_image: the decoded image the overlay is drawn on"
    )
    trust_graph: bool = Field(description="true: loaded without the op allow-list check")


class RemoteInfo(Schema):
    url: str = Field(description="the remote model's TF Serving / KServe V1 URL")
    input: Literal["b64", "array"] = Field(description="how images are sent to :predict")
    input_key: str | None = Field(default=None, description="the signature's input name")
    ready: bool = Field(description="it answered its status URL and a :predict")
    error: str | None = Field(default=None, description="why it is not ready")
    batch: int = Field(description="instances per :predict call")


class TensorDim(Schema):
    size: str = Field(description="the dimension's size as TF Serving writes it: -1 for any")
    name: str = ""


class TensorShape(Schema):
    dim: list[TensorDim]
    unknown_rank: bool = False


class TensorInfo(Schema):
    dtype: str = Field(description="DT_FLOAT, DT_INT32, DT_STRING (encoded images), ...")
    tensor_shape: TensorShape
    name: str = Field(description="the tensor the signature maps this key to")


class SignatureDef(Schema):
    inputs: dict[str, TensorInfo] = Field(description="by the key `:predict` instances use")
    outputs: dict[str, TensorInfo]
    method_name: str = "tensorflow/serving/predict"


class SignatureDefMap(Schema):
    signature_def: dict[str, SignatureDef]


class MetadataBody(Schema):
    signature_def: SignatureDefMap


class ModelSpec(Schema):
    name: str
    signature_name: str = ""
    version: str


def example_dims(*sizes: int) -> JsonDict:
    return {"dim": [{"size": str(size), "name": ""} for size in sizes], "unknown_rank": False}


class ModelMetadataResponse(Schema):
    """TF Serving's `GET /v1/models/NAME/metadata` answer (its GetModelMetadata, as JSON)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_spec": {"name": "shapes", "signature_name": "", "version": "1"},
                    "metadata": {
                        "signature_def": {
                            "signature_def": {
                                "serving_default": {
                                    "inputs": {
                                        "pixels": {
                                            "dtype": "DT_FLOAT",
                                            "tensor_shape": example_dims(-1, 64, 64, 3),
                                            "name": "pixels",
                                        }
                                    },
                                    "outputs": {
                                        "output_0": {
                                            "dtype": "DT_FLOAT",
                                            "tensor_shape": example_dims(-1, 4),
                                            "name": "predictions",
                                        }
                                    },
                                    "method_name": "tensorflow/serving/predict",
                                }
                            }
                        }
                    },
                }
            ]
        }
    )

    model_spec: ModelSpec
    metadata: MetadataBody


class RandomizationVerdict(Schema):
    passed: bool = Field(description="the final Spearman rank correlation was below 0.5")
    final_spearman: float | None
    job: str = Field(description="the audit job that reached it")


class OutputInfo(Schema):
    name: str = Field(description="a target's `output`")
    head: Literal["classifier", "multilabel", "regression", "segmentation", "detection"]
    n_classes: int
    labels: list[str]


class ModelDetailResponse(ModelSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "shapes",
                    "version": "1",
                    "task": "image",
                    "ready": True,
                    "description": "64x64 shapes: circle, square, triangle, cross",
                    "input_shape": [None, 64, 64, 3],
                    "n_classes": 4,
                    "labels": ["circle", "square", "triangle", "cross"],
                    "default_layer": "last_conv",
                    "score": "logit",
                    "methods": ["gradcam", "gradcam++", "scorecam"],
                    "device": "/CPU:0",
                    "candidate_layers": [
                        {"name": "last_conv", "index": 7, "output_shape": [None, 16, 16, 64]}
                    ],
                    "card": {"id": "shapes", "task": "image", "model_file": "model.keras"},
                    "model_version": "1",
                    "model_version_status": [
                        {
                            "version": "1",
                            "state": "AVAILABLE",
                            "serving": True,
                            "status": {"error_code": "OK", "error_message": ""},
                        }
                    ],
                }
            ]
        }
    )

    description: str
    input_shape: list[int | None]
    n_classes: int
    labels: list[str]
    default_layer: str
    score: ScoreMode
    methods: list[MethodName] = Field(description="the methods this model can use")
    device: str
    candidate_layers: list[LayerInfo]
    card: dict[str, object]
    model_version: str = Field(description="the version described (as `version`)")
    model_version_status: list[ModelVersionStatus] = Field(
        description="every version the service knows of, highest first (TF Serving's "
        "GET /v1/models/{id} shape); a failed load is state END with its error"
    )
    saved_model: SavedModelInfo | None = None
    remote: RemoteInfo | None = Field(
        default=None, description="a remote model: its endpoint (only black-box methods)"
    )
    randomization: dict[str, RandomizationVerdict] = Field(
        default_factory=dict,
        description="per method, the last randomisation verdict an audit of this version "
        "reached (POST /v1/models/{id}:audit with check randomization)",
    )
    card_error: str | None = Field(
        default=None,
        description="why the model's card on disk cannot be read now (absent when it can): "
        "`card` is the one loaded, which serves on; no new version loads until it is fixed",
    )
    outputs: list[OutputInfo] = Field(
        default_factory=list,
        description="the outputs it explains, the default first (docs/targets.md)",
    )


class LiveResponse(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"live": True}]})

    live: bool


class ReadyResponse(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ready": True}]})

    ready: bool


class ModelReadyResponse(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "shapes", "ready": True}]})

    name: str
    ready: bool


class PredictResponse(Schema):
    """TF Serving's REST answer: `predictions` (row format) or `outputs` (columnar)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"predictions": [[0.9, 0.05, 0.03, 0.02]]}]}
    )

    predictions: list[object] | None = None
    outputs: object | None = None
    model_version: str = Field(description="the version that answered (not in TF Serving)")
