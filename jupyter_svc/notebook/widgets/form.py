"""``ServiceForm``: create or edit a service from a form generated from the spec's JSON Schema.

The server validates (so the form and the API can never disagree); its field-level errors are
shown next to the fields they name, and the resulting state replaces the form's status line.
"""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as w

from jupyter_svc.client.api_calls import ApiError
from jupyter_svc.client.clients import Client
from jupyter_svc.model.errors import FieldError
from jupyter_svc.model.status import ServiceView
from jupyter_svc.notebook.display import ServiceCard

from .schema_fields import UNSET, Field, build_fields

#: Which top-level fields go in which section; fields not listed go to "advanced".
SECTIONS: dict[str, tuple[str, ...]] = {
    "basic": ("name", "description", "command", "shell", "cwd", "env", "port", "rewrite_path", "public", "url",
              "image"),
    "resources": ("resources", "node_selector", "priority_class", "volumes"),
    "scaling": ("scale_to_zero", "replicas", "desired_state", "restart_policy", "readiness"),
}


class ServiceForm(w.VBox):
    """A create/edit form: ``ServiceForm()`` for a new service, ``ServiceForm(edit="web")`` to edit one."""

    def __init__(self, client: Client | None = None, edit: str | ServiceView | None = None,
                 schema: dict[str, Any] | None = None, wait: float = 120.0) -> None:
        self.client = client or Client()
        self.schema = schema or self.client.schema()
        self.wait = wait
        self.fields: dict[str, Field] = {}
        self.sections: dict[str, list[Field]] = {}
        listed = {key for keys in SECTIONS.values() for key in keys}
        for section, keys in (*SECTIONS.items(), ("advanced", ())):
            def keep(key: str, keys: tuple[str, ...] = keys, section: str = section) -> bool:
                return key in keys if section != "advanced" else key not in listed
            self.sections[section] = build_fields(self.schema, self.schema, keep=keep)
        self.accordion = w.Accordion(children=[w.VBox([f.widget for f in fields])
                                               for fields in self.sections.values()])
        for index, title in enumerate(self.sections):
            self.accordion.set_title(index, title)
        self.accordion.selected_index = 0
        self.submit_button = w.Button(description="create", button_style="primary", icon="play")
        self.submit_button.on_click(lambda _: self.submit())
        self.message = w.HTML()
        self.result = w.HTML()
        self.view: ServiceView | None = None
        super().__init__([self.accordion, w.HBox([self.submit_button, self.message]), self.result])
        self._index()
        if edit is not None:
            self.load(edit if isinstance(edit, ServiceView) else self.client.get(edit))

    def _index(self) -> None:
        """Path -> field, for setting values and placing errors (lists change it, so redo it)."""
        self.fields = {f.path: f for fields in self.sections.values() for top in fields for f in top.fields()}

    def __getitem__(self, path: str) -> Field:
        self._index()
        return self.fields[path]

    def set_values(self, values: dict[str, Any]) -> None:
        """Set fields by dotted path, e.g. ``{"name": "web", "resources.limits.cpu": "500m"}``."""
        for path, value in values.items():
            self[path].set(value)

    def load(self, view: ServiceView) -> None:
        data = view.spec.model_dump(mode="json")
        for fields in self.sections.values():
            for f in fields:
                f.set(data.get(f.path, UNSET))
        self.fields["name"].input.disabled = True
        self.submit_button.description = "save"
        self.view = view
        self._index()

    def spec(self) -> dict[str, Any]:
        """The spec the form describes, without the fields left at their defaults."""
        out = {}
        for fields in self.sections.values():
            for f in fields:
                value = f.value
                if value is not UNSET:
                    out[f.path] = value
        return out

    def show_errors(self, errors: list[FieldError], message: str = "") -> None:
        self._index()
        for f in self.fields.values():
            f.show_error("")
        unplaced = []
        for error in errors:
            target = self._field_for(error.field)
            if target is None:
                unplaced.append(f"{error.field}: {error.message}" if error.field else error.message)
            else:
                target.show_error(error.message)
                self._open_section(target)
        text = "; ".join(filter(None, [message, *unplaced]))
        self.message.value = f"<span style='color:#c62828'>{text}</span>" if text else ""

    def _field_for(self, path: str) -> Field | None:
        while path:
            if path in self.fields:
                return self.fields[path]
            path = path.rsplit(".", 1)[0] if "." in path else path.rsplit("[", 1)[0] if "[" in path else ""
        return None

    def _open_section(self, target: Field) -> None:
        for index, fields in enumerate(self.sections.values()):
            if any(target in f.fields() for f in fields):
                self.accordion.selected_index = index
                return

    def submit(self) -> ServiceView | None:
        """Create or save the service; field errors go next to their fields."""
        self.show_errors([])
        spec = self.spec()
        if not spec.get("name"):
            self.show_errors([FieldError("name", "a name is required")])
            return None
        if self.view is None and not spec.get("cwd") and "url" not in spec:
            spec["cwd"] = os.getcwd()  # a new service starts in the notebook's folder, as from %svc
        self.message.value = "<i>⏳ working…</i>"
        self.submit_button.disabled = True
        try:
            view = self.client.put(spec, wait=self.wait)
        except ApiError as exc:
            self.show_errors(exc.errors, exc.message)
            return None
        finally:
            self.submit_button.disabled = False
        self.message.value = ""
        logs = self.client.logs(view.name, 20) if view.status.state.value == "failed" else ""
        self.result.value = ServiceCard(view, self.client.link(view), logs)._repr_html_()
        self.view = view
        return view
