"""Print the JSON Schemas the panel's TypeScript types are generated from (generate-types.mjs).

The server's pydantic models are the source of truth; the panel gets three views of them:
what a write sends (the spec as validated, which is also what GET svc/api/schema answers and
the form renders), what the server answers (a ServiceView as serialized: every field is there),
and the error body of the OpenAPI document.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import core_schema

from jupyter_svc.model.spec import spec_json_schema
from jupyter_svc.model.status import ServiceView
from jupyter_svc.server.openapi import openapi_document


class AsServed(GenerateJsonSchema):
    """Answers are dumped whole (model_dump_json), so a field with a default is still always sent."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization":
            return True
        return super().field_is_required(field, total)


def schemas() -> dict[str, Any]:
    mode: JsonSchemaMode = "serialization"
    error = dict(openapi_document()["components"]["schemas"]["Error"])
    error["title"] = "ApiErrorBody"  # not "_Error": the generated type would shadow the global Error
    return {
        "service-spec": spec_json_schema(),
        "service-view": ServiceView.model_json_schema(mode=mode, schema_generator=AsServed),
        "error": error,
    }


if __name__ == "__main__":
    json.dump(schemas(), sys.stdout)
