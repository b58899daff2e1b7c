"""Request and response schemas of audits and jobs (`/v1/models/{id}:audit`, `/v1/jobs`)."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, StrictInt, model_validator

from app.api.schemas import ImageData, MethodName, Schema

# app.jobs.audit_inputs.CHECKS, spelled out for the OpenAPI document; a test checks they agree.
CheckName = Literal[
    "pointing",
    "energy-pointing",
    "deletion",
    "insertion",
    "road",
    "randomization",
    "random-logit",
]
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


class AuditInstance(Schema):
    """One labelled sample: an image (with a box or a mask for the pointing checks), or a text."""

    image: ImageData | None = None
    text: str | None = None
    tokens: list[str] | None = None
    ids: list[StrictInt] | None = None
    label: StrictInt = Field(description="the true class index")
    box: list[float] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="[x0, y0, x1, y1] in the image's pixels, x1 and y1 exclusive",
    )
    mask: ImageData | None = Field(
        default=None, description="a PNG of the image's size; non-zero pixels are the object"
    )
    name: str | None = Field(default=None, max_length=256, description="shown in the report")

    @model_validator(mode="after")
    def one_kind(self) -> Self:
        kinds = [self.image, self.text, self.tokens, self.ids]
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError("an instance has exactly one of image, text, tokens or ids")
        if self.box is not None and self.mask is not None:
            raise ValueError("an instance has a box or a mask, not both")
        return self


def default_methods() -> list[MethodName]:
    return ["gradcam"]


def default_checks() -> list[CheckName]:
    return ["pointing", "energy-pointing"]


class AuditParameters(Schema):
    methods: list[MethodName] = Field(default_factory=default_methods, min_length=1)
    checks: list[CheckName] = Field(default_factory=default_checks, min_length=1)
    pointing_margin: float = Field(
        default=15.0, ge=0.0, le=10_000.0, description="pixels of the image (Zhang et al.: 15)"
    )
    layer: int | str | None = None
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="randomisation and random-logit")
    metric_steps: int = Field(default=16, ge=1, le=64, description="deletion and insertion")
    max_channels: int | None = Field(default=None, ge=1, description="scorecam, ablationcam")


class AuditRequest(Schema):
    model_config = Schema.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "instances": [
                        {"image": {"b64": "iVBORw0KGgo..."}, "label": 2, "box": [10, 12, 40, 38]}
                    ],
                    "parameters": {
                        "methods": ["gradcam", "eigencam"],
                        "checks": ["pointing", "energy-pointing", "randomization"],
                    },
                }
            ]
        }
    }

    instances: list[AuditInstance] = Field(min_length=1)
    parameters: AuditParameters = Field(default_factory=AuditParameters)


class JobLink(Schema):
    model_config = Schema.model_config | {
        "json_schema_extra": {"examples": [{"job": "/v1/jobs/0f6c2b1e9a8d4c7f"}]}
    }

    job: str = Field(description="the job's path: GET it for status and result")


class JobProgress(Schema):
    done: int
    total: int


class JobResponse(Schema):
    model_config = Schema.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "0f6c2b1e9a8d4c7f",
                    "kind": "audit",
                    "model": "shapes",
                    "version": "1",
                    "status": "done",
                    "progress": {"done": 120, "total": 120},
                    "result": {
                        "model": "shapes",
                        "version": "1",
                        "instances": 40,
                        "accuracy": 0.975,
                        "methods": {
                            "gradcam": {
                                "pointing": 0.95,
                                "energy_pointing": 0.71,
                                "deletion": None,
                                "insertion": None,
                                "road": None,
                                "random_logit": None,
                                "randomization": {
                                    "steps": [
                                        {"layer": "class_scores", "spearman": 0.62, "ssim": 0.4}
                                    ],
                                    "final_spearman": 0.08,
                                    "pass_below": 0.5,
                                    "passed": True,
                                },
                            }
                        },
                        "classes": {},
                        "flags": [],
                    },
                    "error": None,
                    "report": "/v1/jobs/0f6c2b1e9a8d4c7f/report",
                }
            ]
        }
    }

    id: str
    kind: str
    model: str
    version: str
    status: JobStatus
    progress: JobProgress
    result: dict[str, Any] | None = Field(
        default=None,
        description="when done: accuracy, methods {m: pointing, energy_pointing, deletion, "
        "insertion, road, randomization, random_logit}, classes, flags",
    )
    error: str | None = None
    report: str | None = Field(default=None, description="the HTML report's path, when done")
