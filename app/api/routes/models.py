"""GET /v1/models, GET /v1/models/{model_id} and GET /v1/models/{model_id}/versions/{version};
TF Serving's GET /v1/models/{model_id}[/versions/{version}]/metadata.

`async def`: they only read the registry, which changes on the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.api.deps import RegistryDep
from app.api.openapi_docs import problem_response
from app.api.schemas import (
    LayerInfo,
    MetadataBody,
    ModelDetailResponse,
    ModelListResponse,
    ModelMetadataResponse,
    ModelSpec,
    ModelSummary,
    ModelVersionStatus,
    OutputInfo,
    RandomizationVerdict,
    RemoteInfo,
    SavedModelInfo,
    SignatureDef,
    SignatureDefMap,
    TensorDim,
    TensorInfo,
    TensorShape,
    VersionStatus,
)
from app.engine.layers.refs import LayerRef
from app.engine.methods import BLACKBOX_METHODS, model_methods
from app.registry.registry import Registry
from app.registry.served import ServedModel

router = APIRouter(tags=["models"])
DETAIL_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: problem_response("Model not found", "model 'nope' is not in the registry", 404),
    503: problem_response("Model not ready", "model shapes is still loading", 503),
}


@router.get("/v1/models", summary="List the models in the registry (their serving versions)")
async def list_models(registry: RegistryDep) -> ModelListResponse:
    models = [
        ModelSummary(id=m.id, version=m.card.version, task=m.card.task, ready=m.ready)
        for m in registry
    ]
    return ModelListResponse(models=models)


@router.get(
    "/v1/models/{model_id}",
    summary="A model's card, inputs, labels, layers and versions (the serving one)",
    responses=DETAIL_RESPONSES,
)
async def get_model(model_id: str, registry: RegistryDep, request: Request) -> ModelDetailResponse:
    return with_verdicts(request, model_detail(registry, registry.get(model_id)))


@router.get(
    "/v1/models/{model_id}/versions/{version}",
    summary="One loaded version of a model",
    responses=DETAIL_RESPONSES,
)
async def get_model_version(
    model_id: str, version: str, registry: RegistryDep, request: Request
) -> ModelDetailResponse:
    return with_verdicts(request, model_detail(registry, registry.get(model_id, version)))


@router.get(
    "/v1/models/{model_id}/metadata",
    summary="TF Serving's model metadata: the input and output :predict takes and answers",
    responses=DETAIL_RESPONSES,
)
async def get_metadata(model_id: str, registry: RegistryDep) -> ModelMetadataResponse:
    return model_metadata(registry.get(model_id))


@router.get(
    "/v1/models/{model_id}/versions/{version}/metadata",
    summary="As /metadata, of the loaded version named",
    responses=DETAIL_RESPONSES,
)
async def get_version_metadata(
    model_id: str, version: str, registry: RegistryDep
) -> ModelMetadataResponse:
    return model_metadata(registry.get(model_id, version))


def model_metadata(served: ServedModel) -> ModelMetadataResponse:
    """The `serving_default` signature as TF Serving's REST metadata gives it: the input
    key `:predict`'s named instances use, its dtype and shape (-1: the batch), the output.
    An image model's `:predict` also takes `{"b64": ...}` images."""
    key, dtype, shape = served.predict_input
    output_name, output_shape = served.predict_output
    signature = SignatureDef(
        inputs={key: tensor_info(dtype, shape, key)},
        outputs={"output_0": tensor_info("DT_FLOAT", output_shape, output_name)},
    )
    return ModelMetadataResponse(
        model_spec=ModelSpec(name=served.id, version=served.card.version),
        metadata=MetadataBody(
            signature_def=SignatureDefMap(signature_def={"serving_default": signature})
        ),
    )


def tensor_info(dtype: str, shape: tuple[int | None, ...], name: str) -> TensorInfo:
    dims = [TensorDim(size=str(-1 if dim is None else dim)) for dim in shape]
    return TensorInfo(dtype=dtype, tensor_shape=TensorShape(dim=dims), name=name)


def with_verdicts(request: Request, detail: ModelDetailResponse) -> ModelDetailResponse:
    """The randomisation verdicts audits of this version reached (app.jobs.audit_job)."""
    found = request.app.state.verdicts.of(detail.id, detail.version)
    verdicts = {method: RandomizationVerdict(**verdict) for method, verdict in found.items()}
    return detail.model_copy(update={"randomization": verdicts}) if verdicts else detail


def model_detail(registry: Registry, served: ServedModel) -> ModelDetailResponse:
    gradcam = served.default_gradcam()  # compiled when the version loaded
    return ModelDetailResponse(
        id=served.id,
        version=served.card.version,
        task=served.card.task,
        ready=served.ready,
        description=served.card.description,
        input_shape=list(served.input_shape),
        n_classes=gradcam.n_classes,
        labels=list(served.labels),
        default_layer=gradcam.layer.name,
        score=served.card.score,
        methods=list(BLACKBOX_METHODS if served.remote else model_methods(served.model)),
        device=served.device,
        candidate_layers=[layer_info(ref) for ref in served.candidate_layers],
        card=served.card.model_dump(mode="json", exclude_none=True),
        model_version=served.card.version,
        model_version_status=version_status(registry, served.id),
        saved_model=saved_model_info(served),
        remote=None if served.remote is None else RemoteInfo(**served.remote.summary()),
        card_error=registry.entry(served.id).card_error or None,
        outputs=output_infos(served),
    )


def output_infos(served: ServedModel) -> list[OutputInfo]:
    """The explained outputs, the default first; a card without heads: its first output."""
    if served.heads is None:
        return []
    heads = served.heads
    names = [heads.default, *(name for name in heads.heads if name != heads.default)]
    return [
        OutputInfo(
            name=name,
            head=heads.heads[name].kind,
            n_classes=heads.heads[name].n_classes,
            labels=list(heads.labels[name]),
        )
        for name in names
    ]


def layer_info(ref: LayerRef) -> LayerInfo:
    grid = ref.grid
    return LayerInfo(
        name=ref.name,
        index=ref.index,
        output_shape=list(ref.output_shape),
        token_grid=None if grid is None else [grid.height, grid.width],
        prefix_tokens=None if grid is None else grid.prefix,
    )


def version_status(registry: Registry, model_id: str) -> list[ModelVersionStatus]:
    return [
        ModelVersionStatus(
            version=state.version,
            state=state.state,
            serving=state.serving,
            status=VersionStatus(
                error_code="UNKNOWN" if state.error else "OK", error_message=state.error
            ),
        )
        for state in registry.entry(model_id).states()
    ]


def saved_model_info(served: ServedModel) -> SavedModelInfo | None:
    graph = served.graph_summary()
    return None if graph is None else SavedModelInfo(**graph)
