"""Service settings: one class, read from `GRADCAM_*` environment variables (and `.env`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.render.colormap import COLORMAPS

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GRADCAM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    models_dir: Path = Field(default=Path("models"), description="folder of model folders")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    device: str | None = Field(
        default=None,
        pattern=r"^/(CPU|GPU):\d+$",
        description="TensorFlow device for the engine, e.g. /CPU:0; default: GPU when present",
    )
    warm_up: bool = True

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

    # Browsers and docs.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    docs_enabled: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def split_origins(cls, value: object) -> object:
        """`GRADCAM_CORS_ORIGINS=https://a.example,https://b.example` (or a JSON list)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("colormap")
    @classmethod
    def known_colormap(cls, value: str) -> str:
        if value not in COLORMAPS:
            raise ValueError(f"must be one of {', '.join(COLORMAPS)}")
        return value
