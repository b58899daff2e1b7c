"""GET /v1/models and GET /v1/models/{model_id}."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ModelDep, RegistryDep
from app.api.openapi_docs import problem_response
from app.api.schemas import LayerInfo, ModelDetailResponse, ModelListResponse, ModelSummary
from app.engine.layers import LayerRef
from app.engine.methods import model_methods

router = APIRouter(tags=["models"])


@router.get("/v1/models", summary="List the models in the registry")
def list_models(registry: RegistryDep) -> ModelListResponse:
    models = [
        ModelSummary(id=m.id, version=m.card.version, task=m.card.task, ready=m.ready)
        for m in registry
    ]
    return ModelListResponse(models=models)


@router.get(
    "/v1/models/{model_id}",
    summary="A model's card, inputs, labels and layers",
    responses={
        404: problem_response("Model not found", "model 'nope' is not in the registry", 404),
        503: problem_response("Model not ready", "model shapes is still loading", 503),
    },
)
def get_model(served: ModelDep) -> ModelDetailResponse:
    gradcam = served.default_gradcam()
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
        methods=list(model_methods(served.model)),
        device=served.device,
        candidate_layers=[layer_info(ref) for ref in served.candidate_layers],
        card=served.card.model_dump(mode="json", exclude_none=True),
    )


def layer_info(ref: LayerRef) -> LayerInfo:
    grid = ref.grid
    return LayerInfo(
        name=ref.name,
        index=ref.index,
        output_shape=list(ref.output_shape),
        token_grid=None if grid is None else [grid.height, grid.width],
        prefix_tokens=None if grid is None else grid.prefix,
    )
