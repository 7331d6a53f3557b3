"""The one settings object. Every field is read from a `VEORELAY_*` environment variable.

Build it with `Settings()` (environment) or `Settings(field=...)` (tests); nothing reads the
environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from veorelay.core.models import DEFAULT_MODELS
from veorelay.core.pricing import price_to_micros, usd_to_micros

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VEORELAY_", frozen=True, extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the SQLite file and videos live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite in data_dir. postgresql:// works too."
    )
    host: str = Field("127.0.0.1", description="Address `veorelay serve` listens on.")
    port: int = Field(8000, description="Port `veorelay serve` listens on.")
    log_level: str = Field("info", description="debug, info, warning or error.")
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one object per line with request and task ids."
    )
    access_log: bool = Field(
        True, description="Log each request (method, path, status, duration) at info level."
    )

    gemini_api_key: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Google Gemini API key(s), comma-separated. None: the built-in simulator.",
    )
    gemini_base_url: str = Field(GEMINI_BASE_URL, description="Gemini API base URL.")
    model_map: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {"public model": "upstream model id"}, e.g. GA ids for preview names.',
    )
    prices: dict[str, float] = Field(
        default_factory=dict, description='JSON {"model": USD per call}; overrides defaults.'
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call /v1/ (CORS), comma-separated; * for any.",
    )

    secret_key: SecretStr | None = Field(
        None,
        description="Fernet key encrypting channel secrets; unset: data_dir/secret.key is made.",
    )
    admin_key: SecretStr | None = Field(
        None, description="Bearer key for the admin API (/admin/api); unset: admin API off."
    )
    metrics_key: SecretStr | None = Field(
        None, description="Bearer key for /metrics; unset: /metrics answers loopback clients only."
    )
    console: bool = Field(True, description="Serve the web console at /console.")
    console_session_seconds: float = Field(
        12 * 3600, gt=0, description="How long a console sign-in lasts."
    )
    worker_metrics_port: int = Field(
        0, ge=0, le=65535, description="`veorelay worker`: serve its /metrics here (0 = off)."
    )
    cache_seconds: float = Field(
        5.0, ge=0, description="How long token lookups and prices are cached per process."
    )

    simulator_time_scale: float = Field(
        1.0, gt=0, description="Multiplies the simulator's render times (1.0 = realistic)."
    )
    simulator_port: int = Field(0, description="Port of the embedded simulator (0 = any free).")

    engine_enabled: bool = Field(True, description="Run the task engine inside `serve`.")
    engine_time_scale: float | None = Field(
        None,
        gt=0,
        description="Multiplies the engine's waits; default: the simulator's scale if it is used.",
    )
    engine_concurrency: int = Field(16, ge=1, description="Steps one engine runs at once.")
    engine_submit_concurrency: int = Field(
        4, ge=1, description="Submits one engine has in flight at once (small: crash window)."
    )
    engine_maintenance_seconds: float = Field(
        60.0, gt=0, description="How often the engine probes unreachable channels (scaled)."
    )
    engine_tick_seconds: float = Field(
        1.0, gt=0, description="How often the engine looks for due work."
    )
    engine_lease_seconds: float = Field(
        30.0, gt=0, description="How long a worker owns a task step before others may take it."
    )
    engine_drain_seconds: float = Field(
        10.0, ge=0, description="On shutdown, how long steps in flight may finish."
    )
    task_timeout_seconds: float = Field(
        1800.0, gt=0, description="A task not completed this long after creation fails (scaled)."
    )
    webhook_allow_private: bool = Field(
        False,
        description="Let webhooks target loopback and private addresses (tests, internal hooks).",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="How long one webhook attempt may take before it counts as failed."
    )
    webhook_time_scale: float | None = Field(
        None,
        gt=0,
        description="Multiplies the webhook retry schedule; default: the engine's time scale.",
    )
    webhook_disable_after_seconds: float = Field(
        5 * 24 * 3600.0,
        gt=0,
        description="An endpoint failing every attempt this long is disabled (scaled).",
    )
    upstream_timeout_seconds: float = Field(60.0, gt=0, description="Per upstream HTTP call.")

    storage: Literal["filesystem", "s3"] = Field(
        "filesystem", description="Where videos live: files in data_dir/videos, or an S3 bucket."
    )
    s3_bucket: str | None = Field(None, description="The bucket (VEORELAY_STORAGE=s3).")
    s3_prefix: str = Field("", description="Prefix of every key in the bucket, e.g. veorelay/.")
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (R2, MinIO, GCS); unset: AWS S3."
    )
    s3_region: str | None = Field(None, description="The bucket's region (auto for R2).")
    s3_access_key_id: str | None = Field(None, description="unset: the AWS default chain.")
    s3_secret_access_key: SecretStr | None = Field(None, description="Its secret.")
    s3_presigned_redirect_seconds: int = Field(
        0, ge=0, le=7 * 24 * 3600, description="/content: 302 to a URL valid this long; 0: stream."
    )
    retention_seconds: float = Field(
        7 * 24 * 3600.0, gt=0, description="How long a finished video's file is kept."
    )
    prune_tasks_after_seconds: float | None = Field(
        None, gt=0, description="Delete finished tasks this old whose file is gone; unset: keep."
    )
    storage_reconcile_seconds: float = Field(
        3600.0, gt=0, description="How often the engine reconciles storage and tasks (scaled)."
    )
    body_read_timeout_seconds: float = Field(
        30.0, gt=0, description="A request body silent this long is answered 408."
    )

    @field_validator("gemini_api_key", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("prices")
    @classmethod
    def _sane_prices(cls, value: dict[str, float]) -> dict[str, float]:
        for usd in value.values():
            price_to_micros(usd)  # a negative or absurd price is refused at start
        return value

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("VEORELAY_STORAGE=s3 needs VEORELAY_S3_BUCKET")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'veorelay.db').resolve()}"

    @property
    def database_description(self) -> str:
        """The database URL as it may be shown: any password hidden."""
        try:
            return make_url(self.resolved_database_url).render_as_string(hide_password=True)
        except ArgumentError:
            return "(not a database URL)"

    @property
    def uses_simulator(self) -> bool:
        """No Google key in the environment: the built-in simulator is the default channel."""
        return not self.gemini_api_key

    @property
    def effective_engine_time_scale(self) -> float:
        if self.engine_time_scale is not None:
            return self.engine_time_scale
        return self.simulator_time_scale if self.uses_simulator else 1.0

    @property
    def effective_webhook_time_scale(self) -> float:
        if self.webhook_time_scale is not None:
            return self.webhook_time_scale
        return self.effective_engine_time_scale

    def price_table(self) -> dict[str, int]:
        """Per-call prices in micro-USD that seed the database's model table at start."""
        table = {name: model.price_micros for name, model in DEFAULT_MODELS.items()}
        table.update({name: usd_to_micros(usd) for name, usd in self.prices.items()})
        return table
