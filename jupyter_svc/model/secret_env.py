"""secret_env: values a service gets but the API never shows (masked), and how a spec sent back
with the masks keeps the stored values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import SecretStr, WithJsonSchema

from .errors import FieldError, SpecInvalid

if TYPE_CHECKING:
    from .spec import ServiceSpec

#: A secret_env value: SecretStr keeps it out of reprs and log lines; the API shows SECRET_MASK.
SecretValue = Annotated[SecretStr, WithJsonSchema({"type": "string", "format": "password"})]
#: What the API shows for each secret_env value; sent back in an update, it keeps the stored value.
SECRET_MASK = "**********"


def restore_masked_secrets(data: Any, stored: ServiceSpec | None, prefix: str = "") -> Any:
    """Raw spec JSON (a PUT, a merge patch, a manifest entry) with each ``SECRET_MASK`` in
    ``secret_env`` replaced by the stored value, so that a spec read from the API and sent back
    keeps its secrets; a mask with no value stored under its name is a 422."""
    if not isinstance(data, dict) or not isinstance(data.get("secret_env"), dict):
        return data
    kept = stored.secret_env if stored is not None else {}
    secrets = dict(data["secret_env"])
    for name, value in secrets.items():
        if value != SECRET_MASK:
            continue
        if name not in kept:
            raise SpecInvalid("invalid service spec", [FieldError(
                f"{prefix}secret_env.{name}", f"is the mask {SECRET_MASK!r}, but no value is stored "
                                              "under this name: give the value")])
        secrets[name] = kept[name].get_secret_value()
    return {**data, "secret_env": secrets}
