"""What is running, kept apart from what was asked for (the spec)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, Field, model_validator

from .lifetimes import KeepWarmStatus
from .spec import ServiceSpec


class ServiceState(str, Enum):
    pending = "pending"
    starting = "starting"
    ready = "ready"
    stopping = "stopping"
    scaled_to_zero = "scaled_to_zero"
    waking = "waking"
    failed = "failed"
    disabled = "disabled"


class ServiceStatus(BaseModel):
    state: ServiceState = ServiceState.pending
    message: str = ""
    url: str = Field("", description="Where users open it: the proxy path under the server.")
    backend: str = ""
    endpoint: str = Field("", description="Where the proxy sends traffic while an instance runs.")
    generation: int = Field(0, description="Spec version; bumped by every accepted change.")
    revision: int = Field(0, description="Bumped by every status change: order views by it.")
    replicas_ready: int = 0
    started_at: datetime | None = None
    last_activity: datetime | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    cold_starts: int = 0
    last_cold_start_ms: float | None = None
    last_cold_start_steps: dict[str, float] = Field(
        default_factory=dict, description="Where the last cold start's milliseconds went, in order: queued (for "
        "the service's lock), spawn (the backend's start), ready (until its readiness passed), release.")
    idle_deadline: datetime | None = Field(None, description="When it scales to zero if no traffic comes.")
    changed_at: datetime | None = Field(None, description="When the spec was created or last changed.")
    keep_warm: KeepWarmStatus | None = Field(None, description="Its keep-warm schedule now, if it has one.")
    expires_at: datetime | None = Field(None, description="When it is deleted (spec.expires_after).")


class ServiceView(BaseModel):
    """One service as the API returns it. It never holds a secret: secret_env values are masked as
    it is built, so whatever serializes it (the REST answers, the events stream, the CLI, the
    widgets) cannot leak them."""

    name: str
    spec: ServiceSpec
    status: ServiceStatus

    @model_validator(mode="after")
    def _mask_secrets(self) -> ServiceView:
        self.spec = self.spec.masked()
        return self
