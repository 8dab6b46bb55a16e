"""The declarative service spec: one model that every backend runs unchanged.

The fields cover what app-service platforms (manifest API), Polyaxon services and JupyterHub
services can express; names follow Python. Unknown fields are errors so that a typo is reported,
not silently dropped.
"""

from __future__ import annotations

import functools
import json
import re
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    SecretStr,
    ValidationError,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

from .errors import cross_field
from .lifetimes import KeepWarmWindow, KernelBinding
from .names import NAME_JSON_SCHEMA, check_name
from .patterns import whole
from .safe_text import HttpUrl, Line, Text, TextKey, UrlPath, key_schema
from .secret_env import SECRET_MASK, SecretValue
from .units import DURATION_PATTERN, QUANTITY_PATTERN, format_duration, parse_duration, parse_quantity

_ENV_NAME_BODY = r"[A-Za-z_][A-Za-z0-9_]*"
_LABEL_KEY_BODY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_ENV_NAME = re.compile(_ENV_NAME_BODY)
_LABEL_KEY = re.compile(_LABEL_KEY_BODY)


def _check_env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid environment variable name")
    return value


def _check_label_key(value: str) -> str:
    if len(value) > 253 or not _LABEL_KEY.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid label key")
    return value


def _check_quantity(value: str | int | float) -> str:
    text = str(value)
    parse_quantity(text)
    return text


def _command_shape_error(command: Any, shell: Any) -> tuple[str, str] | None:
    """``(field, reason)`` when command and shell disagree; None when they fit. One check for the
    validated model and for raw input whose other fields are invalid (see ``_every_error``)."""
    if isinstance(command, str) and not shell:
        return "command", "a string needs shell: true to run through a shell; or give an argv list"
    if isinstance(command, list) and shell is True:
        return "shell", "shell: true needs command as one string"
    return None


def _check_abs_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path starting with '/'")
    return value


ServiceName = Annotated[str, AfterValidator(check_name), WithJsonSchema(NAME_JSON_SCHEMA)]
EnvKey = Annotated[str, AfterValidator(_check_env_name), WithJsonSchema(key_schema(whole(_ENV_NAME_BODY)))]  # a key
EnvName = Annotated[str, AfterValidator(_check_env_name),
                    WithJsonSchema({"type": "string", "pattern": whole(_ENV_NAME_BODY)})]
LabelKey = Annotated[str, AfterValidator(_check_label_key), WithJsonSchema(key_schema(whole(_LABEL_KEY_BODY), 253))]
Quantity = Annotated[
    str,
    BeforeValidator(_check_quantity),
    WithJsonSchema(
        {"type": "string", "pattern": QUANTITY_PATTERN, "examples": ["100m", "1.2Gi", "1"]}
    ),
]
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "examples": ["90s", "5m", "1h", "one_hour"]}
    ),
]
AbsPath = Annotated[Text, AfterValidator(_check_abs_path),
                    WithJsonSchema({"type": "string", "pattern": whole(r"/[^\x00]*")})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class RestartPolicy(str, Enum):
    always = "always"
    on_failure = "on-failure"
    never = "never"


class DesiredState(str, Enum):
    ready = "ready"
    scaled_to_zero = "scaled_to_zero"
    disabled = "disabled"


class ResourceAmounts(_Model):
    cpu: Quantity | None = Field(None, title="CPU", description="CPU cores, e.g. '500m' or '2'.")
    memory: Quantity | None = Field(None, title="Memory", description="Memory, e.g. '512Mi' or '1.2Gi'.")
    gpu: Quantity | None = Field(None, title="GPUs", description="Whole GPUs (nvidia.com/gpu), e.g. '1'.")

    @field_validator("gpu")
    @classmethod
    def _whole_gpus(cls, value: str | None) -> str | None:
        if value is not None and parse_quantity(value) % 1 != 0:
            raise ValueError("GPUs are counted in whole devices, e.g. '1'")
        return value


class Resources(_Model):
    requests: ResourceAmounts = Field(
        default_factory=ResourceAmounts, title="Requests",
        description="What the service is guaranteed: a scheduler reserves it.")
    limits: ResourceAmounts = Field(
        default_factory=ResourceAmounts, title="Limits", description="The most the service may use.")

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Resources:
        for kind in ("cpu", "memory", "gpu"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if request is not None and limit is not None and parse_quantity(limit) < parse_quantity(request):
                raise cross_field(f"limits.{kind}", f"{limit} is below requests.{kind} ({request})")
        return self

    def is_empty(self) -> bool:
        return self == Resources()


class Readiness(_Model):
    """How to know that the app answers; default: any HTTP response below 500 on '/'."""

    path: UrlPath = Field(
        "/", title="Probe path", description="Path probed with GET, relative to the app's root.")
    statuses: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        None, title="Accepted statuses", description="Status codes that mean ready; unset accepts any below 500."
    )
    timeout: Duration | None = Field(
        None, title="Readiness timeout",
        description="Give up after this long ('60s'); unset uses the server's readiness_timeout."
    )
    interval: Duration = Field(1.0, title="Probe interval",
                               description="Longest pause between probes (they start faster).")

    @field_validator("path")
    @classmethod
    def _rooted(cls, value: str) -> str:
        return value if value.startswith("/") else "/" + value

    def accepts(self, status: int) -> bool:
        return status < 500 if self.statuses is None else status in self.statuses


class Port(_Model):
    name: Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]{0,13})$")] = Field(
        title="Name", description="Lower-case, up to 14 characters; commands read it as {ports.NAME}.")
    port: int = Field(0, ge=0, le=65535, title="Port", description="0 picks a free port (local backend).")
    protocol: Literal["TCP", "UDP"] = Field("TCP", title="Protocol", description="TCP or UDP.")


class Container(_Model):
    """A sidecar or init step: a command, an image, or both."""

    name: ServiceName = Field(title="Name", description="Lower-case letters, digits and '-'.")
    image: Line | None = Field(None, title="Image", description="Container image (container backends).")
    command: list[Text] = Field(default_factory=list, title="Command", description="argv list.")
    env: dict[EnvKey, Text] = Field(default_factory=dict, title="Environment variables",
                                     description="Extra variables for this step.")
    cwd: Text | None = Field(None, title="Working directory", description="Unset: the service's.")
    resources: Resources = Field(default_factory=Resources, title="Resources",
                                 description="CPU, memory and GPUs for this step.")

    @model_validator(mode="after")
    def _runs_something(self) -> Container:
        if not self.image and not self.command:
            raise cross_field("command", "needs an image or a command")
        return self


class Volume(_Model):
    """A persistent volume claim mounted into the service's container."""

    claim: Line = Field(title="Volume claim", description="Name of the PersistentVolumeClaim.")
    mount_path: AbsPath = Field(title="Mount path", description="Absolute path inside the container.")
    sub_path: Text | None = Field(None, title="Sub-path", description="A folder of the volume instead of its root.")
    read_only: bool = Field(False, title="Read-only", description="Mount it read-only.")


class ServiceSpec(_Model):
    """What a user asks for; the status of what runs is a separate model."""

    # identity
    name: ServiceName = Field(
        title="Name", description="Lower-case letters, digits and '-'; the service answers at /svc/<name>/.")
    description: Text = Field("", title="Description", description="Shown in the panel and on its launcher card.")
    labels: dict[LabelKey, Line] = Field(default_factory=dict, title="Labels",
                                         description="Key/value pairs to group and select services.")
    annotations: dict[TextKey, Text] = Field(default_factory=dict, title="Annotations",
                                          description="Free-form notes for tools; not used to select.")
    icon: Line | None = Field(None, title="Icon", description="URL or data: URI of an icon for launchers.")
    backend: Line | None = Field(None, title="Backend",
                                 description="Backend that runs it; unset uses the server's default.")

    # what runs
    command: list[Text] | Text | None = Field(
        None, title="Command",
        description="argv list; a string only with shell: true. {port}, {base_url}, {name} are filled in."
    )
    shell: bool = Field(False, title="Run through a shell", description="Run command (a string) through /bin/sh -c.")
    cwd: Text | None = Field(None, title="Working directory",
                             description="Unset: the notebook's folder from a notebook, else the server's root folder.")
    env: dict[EnvKey, Text] = Field(default_factory=dict, title="Environment variables",
                                     description="Extra variables; values may use {port}, {base_url}, {name}.")
    secret_env: dict[EnvKey, SecretValue] = Field(
        default_factory=dict, title="Secret environment variables",
        description=f"Like env, but the API never returns the values ({SECRET_MASK!r} instead; sent back "
                    "unchanged, it keeps the stored value).")
    inherit_env: list[EnvName] = Field(
        default_factory=list, title="Inherited credentials",
        description="The server's variables that services do not inherit by default (Jupyter's and "
                    "JupyterHub's credentials) that this one gets anyway.")
    image: Line | None = Field(None, title="Image", description="Container image (container backends).")
    image_pull_secrets: list[Line] = Field(default_factory=list, title="Image pull secrets",
                                           description="Secrets to pull the image with (container backends).")
    url: HttpUrl | None = Field(
        None, title="External URL", description="External service: only proxied, never started.")

    # networking
    port: int = Field(0, ge=0, le=65535, title="Port",
                      description="Port the app listens on, filled in as {port}; 0 picks a free one.")
    ports: list[Port] = Field(default_factory=list, title="Extra ports",
                              description="Extra ports, templated as {ports.NAME}.")
    rewrite_path: bool = Field(
        True, title="Strip the path prefix",
        description="Strip /svc/<name> before forwarding; off when the app serves under {base_url}."
    )
    public: bool = Field(False, title="Public", description="Reachable without Jupyter authentication.")

    # health and supervision
    readiness: Readiness = Field(default_factory=Readiness, title="Readiness probe",
                                 description="How to know that the app answers.")
    restart_policy: RestartPolicy = Field(RestartPolicy.always, title="Restart policy",
                                          description="When an exited process is started again.")

    # scaling
    replicas: int = Field(1, ge=1, le=100, title="Replicas", description="Instances while running.")
    scale_to_zero: Duration | None = Field(
        None, title="Idle window",
        description="Idle time before scaling to zero ('5m', 'one_hour'); 'never' (0) keeps it up; "
                    "unset uses the server's default_idle_window."
    )
    desired_state: DesiredState = Field(DesiredState.ready, title="Desired state",
                                        description="ready runs it (woken on demand), disabled never does.")

    # placement and resources
    resources: Resources = Field(default_factory=Resources, title="Resources",
                                 description="CPU, memory and GPUs (container backends).")
    node_selector: dict[LabelKey, str] = Field(default_factory=dict, title="Node selector",
                                               description="Node labels the service must run on (Kubernetes).")
    priority_class: Line | None = Field(None, title="Priority class", description="Kubernetes PriorityClass name.")
    volumes: list[Volume] = Field(default_factory=list, title="Volumes",
                                  description="Persistent volume claims to mount (container backends).")
    sidecars: list[Container] = Field(default_factory=list, title="Sidecars",
                                      description="Containers that run beside the service (container backends).")
    init: list[Container] = Field(default_factory=list, title="Init steps",
                                  description="Commands or containers run to completion before each start.")

    depends_on: list[ServiceName] = Field(
        default_factory=list, title="Depends on", description="Services whose URLs are injected as SVC_<NAME>_URL."
    )
    keep_warm: list[KeepWarmWindow] = Field(
        default_factory=list, title="Keep warm", description="Windows (cron start and end, a time zone) in which it "
        "is never scaled to zero by idleness, and started shortly before each opens.")
    kernel: KernelBinding | None = Field(
        None, title="Bound to a kernel", description="Deleted (or scaled to zero) when this kernel ends or restarts.")
    expires_after: Duration | None = Field(None, gt=0, title="Expires after",
                                           description="Deleted this long after its creation or last change.")

    @field_validator("scale_to_zero", mode="before")
    @classmethod
    def _disabled_window(cls, value: Any) -> Any:
        if value in (False, "disabled", "off", "never", "none"):
            return 0  # explicitly never; null means "the server's default_idle_window"
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _every_error(cls, data: Any, handler: ModelWrapValidatorHandler[ServiceSpec]) -> ServiceSpec:
        """All the errors of a spec at once: pydantic skips the checks across fields (``_coherent``)
        once a field is invalid, so the command/shell check, which the raw input answers, joins them."""
        try:
            return handler(data)
        except ValidationError as exc:
            shape = _command_shape_error(data.get("command"), data.get("shell")) if isinstance(data, dict) else None
            errors = exc.errors(include_url=False)
            if shape is None or any(shape[1] in e["msg"] for e in errors):
                raise
            details: list[Any] = [{"type": e["type"], "loc": e["loc"], "input": e["input"],
                                   **({"ctx": e["ctx"]} if "ctx" in e else {})} for e in errors]
            details.append({"type": "value_error", "loc": (), "input": data,
                            "ctx": {"error": cross_field(*shape)}})
            raise ValidationError.from_exception_data(exc.title, details) from None

    @model_validator(mode="after")
    def _coherent(self) -> ServiceSpec:
        if self.url is not None:
            clash = [f for f in ("command", "image") if getattr(self, f)]
            if clash:
                raise cross_field("url", f"an external service (url) cannot also set {', '.join(clash)}")
        elif self.command is None and not self.image:  # an empty image names nothing to run
            raise cross_field("command", "set command (a local process), image (a container) "
                                         "or url (an external service)")
        shape = _command_shape_error(self.command, self.shell)
        if shape is not None:
            raise cross_field(*shape)
        if isinstance(self.command, list) and not self.command:
            raise cross_field("command", "is empty")
        if self.name in self.depends_on:
            raise cross_field("depends_on", "names the service itself")
        port_names = [p.name for p in self.ports]
        if len(set(port_names)) != len(port_names):
            raise cross_field("ports", "duplicate names")
        return self

    @field_serializer("secret_env")
    def _reveal(self, values: dict[str, SecretStr]) -> dict[EnvKey, str]:
        """The values themselves, for the store and the backends; ServiceView masks them."""
        return {name: value.get_secret_value() for name, value in values.items()}

    def masked(self) -> ServiceSpec:
        """This spec as the API shows it: each secret_env value replaced by SECRET_MASK."""
        if all(value.get_secret_value() == SECRET_MASK for value in self.secret_env.values()):
            return self
        return self.model_copy(update={"secret_env": dict.fromkeys(self.secret_env, SecretStr(SECRET_MASK))})

    def runtime_view(self) -> dict[str, Any]:
        """The fields whose change needs a new instance (everything else applies in place)."""
        live = {"description", "labels", "annotations", "icon", "public", "rewrite_path", "scale_to_zero",
                "desired_state", "restart_policy", "replicas", "readiness", "keep_warm", "kernel", "expires_after"}
        return self.model_dump(mode="json", exclude=live)


class Manifest(_Model):
    """A batch of specs, applied together; accepts ``{"services": [...]}`` or a bare list."""

    services: list[ServiceSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        return {"services": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _unique(self) -> Manifest:
        names = [s.name for s in self.services]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise cross_field("services", f"listed twice: {', '.join(dupes)}")
        return self


class ApplyMode(Enum):
    merge = "merge"
    replace = "replace"


@functools.cache
def _schema_text() -> str:
    return json.dumps(ServiceSpec.model_json_schema(mode="validation"))


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema the widgets and the lab panel build their forms from (built once: ~10 ms)."""
    return dict(json.loads(_schema_text()))


def spec_json_schema_text() -> str:
    return _schema_text()
