"""Service settings: one class, read from `GRADCAM_*` environment variables (and `.env`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, FilePath, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.registry.policy import parse_policy
from app.render.colormap import COLORMAPS

KiB = 1024
MiB = 1024 * KiB
PRINTABLE_KEY = re.compile(r"[\x21-\x7e]+")  # header-safe: printable ASCII, no spaces


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GRADCAM_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,  # a bad API key must not be echoed into the logs
    )

    models_dir: Path = Field(default=Path("models"), description="folder of model folders")
    poll_seconds: float = Field(
        default=30.0,
        ge=0.0,
        description="seconds between scans of models_dir for new or removed versions "
        "and models; 0: never (what start-up loads is served until a restart)",
    )
    model_version_policy: str = Field(
        default="latest",
        description="versions kept loaded per model: latest, latest:N, all or specific:V,...; "
        "a card's version_policy overrides it",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    device: str | None = Field(
        default=None,
        pattern=r"^/(CPU|GPU):\d+$",
        description="TensorFlow device for the engine, e.g. /CPU:0; default: GPU when present",
    )
    warm_up: bool = True
    intra_op_threads: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="TensorFlow threads per op; default on CPU: cores / 2, on GPU: TensorFlow's",
    )
    engine_workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="compiled calls in flight per model; default 2 on CPU, 1 on GPU",
    )

    # Batching and overload (per model).
    max_batch_size: int | None = Field(
        default=None, ge=1, le=1024, description="maps per compiled call; default 8 CPU, 32 GPU"
    )
    batch_max_wait_ms: float = Field(
        default=0.0, ge=0.0, le=1000.0, description="hold a small batch this long for more"
    )
    max_queue: int = Field(
        default=16, ge=1, description="requests in progress per model before a 503"
    )
    overload_queue: int = Field(
        default=4, ge=1, description="the bound instead while the model is overloaded"
    )
    overload_window: float = Field(
        default=1.0, ge=0.0, le=600.0, description="an overload ends this long after a 503"
    )
    request_timeout: float = Field(default=30.0, gt=0.0, description="seconds before a 504")

    # Overlay defaults (a request may override them).
    colormap: str = "viridis"
    alpha_limit: float = Field(default=0.65, ge=0.0, le=1.0)
    overlay_max_side: int = Field(default=1024, ge=16, le=8192)

    # Input limits.
    max_image_bytes: int = Field(default=8 * MiB, gt=0)
    max_json_bytes: int = Field(default=1 * MiB, gt=0)
    max_image_pixels: int = Field(default=25_000_000, gt=0)
    max_image_side: int = Field(default=8192, gt=0)
    max_instances: int = Field(default=64, ge=1)
    max_tokens: int = Field(default=4096, ge=1)
    max_channels: int = Field(
        default=256, ge=1, description="scorecam/ablationcam: most channels a request may ask"
    )
    max_form_fields: int = Field(default=16, ge=1, description="multipart fields besides the file")
    max_form_field_bytes: int = Field(default=64 * KiB, gt=0, description="each non-file field")
    body_read_timeout: float = Field(
        default=30.0, gt=0.0, description="seconds a request body may stall before a 408"
    )

    # Jobs (audits): run beside requests, on the same models; results kept for a while.
    jobs_max_running: int = Field(default=1, ge=1, le=64, description="jobs computing at once")
    jobs_max_queued: int = Field(default=4, ge=0, description="jobs waiting; one more gets 429")
    jobs_keep_seconds: float = Field(
        default=3600.0, gt=0.0, description="a finished job's result and report are kept this long"
    )
    audit_max_instances: int = Field(default=256, ge=1, description="instances per audit")
    audit_max_bytes: int = Field(default=64 * MiB, gt=0, description="an :audit JSON body")

    # Shutdown: after SIGTERM readiness is 503 and in-flight requests get this long to finish.
    shutdown_grace: float = Field(default=25.0, ge=0.0, description="seconds of draining")

    # API keys: when any is set, every route but health needs one.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    api_keys_file: FilePath | None = Field(default=None, description="one key a line, # comments")

    # Browsers and docs.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    docs_enabled: bool = True
    web_enabled: bool = Field(
        default=True, description="the page at /; off as well when docs_enabled is off"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("cors_origins", "api_keys", mode="before")
    @classmethod
    def split_list(cls, value: object) -> object:
        """`GRADCAM_CORS_ORIGINS=https://a.example,https://b.example` (or a JSON list)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def printable_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        # Header values: printable ASCII without spaces. Never echo a key in the message.
        if not all(PRINTABLE_KEY.fullmatch(key.get_secret_value()) for key in keys):
            raise ValueError("API keys must be printable ASCII without spaces")
        return keys

    @field_validator("model_version_policy")
    @classmethod
    def known_policy(cls, value: str) -> str:
        parse_policy(value)  # a ValueError names the accepted forms
        return value

    @field_validator("colormap")
    @classmethod
    def known_colormap(cls, value: str) -> str:
        if value not in COLORMAPS:
            raise ValueError(f"must be one of {', '.join(COLORMAPS)}")
        return value
