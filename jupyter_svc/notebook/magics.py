"""``%svc`` and ``%%svc``: every REST operation as one line, and apps served from a cell.

A failure raises :class:`~jupyter_svc.notebook.magic_errors.SvcMagicError`, so the cell fails and
"Run All" stops there, shown as a short message, never a traceback: a usage text for bad
arguments, the server's message with its field-level details for API errors (:func:`format_error`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.display import display

from jupyter_svc.client.api_calls import ApiError
from jupyter_svc.client.clients import Client
from jupyter_svc.model.status import ServiceView

from .cell_apps import CELL_DIR, annotations_for, remove_cell_folder, write_cell
from .display import ApplyTable, Link, ServiceCard, ServiceTable, schema_table, templates_table
from .lifetimes import bind, bound_call
from .magic_args import (
    COMMANDS,
    NAMED,
    UsageError,
    create_spec,
    flags_of,
    format_error,
    help_text,
    load_manifest,
    parse,
    split_line,
    template_params,
    template_spec,
    update_patch,
    wait_of,
)
from .magic_errors import SvcMagicError, reworded
from .progress import Waiting
from .templates import Template, registry

__all__ = ["CELL_DIR", "SvcMagicError", "SvcMagics", "load_ipython_extension"]

#: Subcommands whose result is a service that should end up running (a failed one fails the cell).
_STARTING = ("starting", "updating", "restarting", "waking", "scaling", "enabling")


@magics_class
class SvcMagics(Magics):
    """The ``%svc`` magics; one client per kernel, found the first time it is needed."""

    def __init__(self, shell: Any = None, client: Client | None = None) -> None:
        super().__init__(shell)
        self._client = client
        self._names: tuple[float, list[str]] = (0.0, [])
        self._line = ""

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client()
        return self._client

    @no_var_expand
    @line_cell_magic
    def svc(self, line: str, cell: str | None = None) -> Any:
        try:
            return self._dispatch(line, cell)
        except UsageError as exc:
            raise SvcMagicError(str(exc).rstrip()) from None
        except ApiError as exc:
            raise SvcMagicError(format_error(exc)) from None
        except KeyboardInterrupt:  # `%svc logs NAME -f` ends this way; waits raise SvcMagicError
            print("interrupted", file=sys.stderr)
        return None

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, line: str, cell: str | None) -> Any:
        self._line = line
        if cell is not None:
            return self._cell(line, cell)
        ns, command = parse(line)
        if ns.command in COMMANDS:
            handler = getattr(self, f"_do_{ns.command}")
            return handler(ns, command) if ns.command == "create" else handler(ns)
        template = registry.get(ns.command)
        return self._deploy(template, ns.name, template_params(template, ns, command), ns)

    def _cell(self, line: str, cell: str) -> Any:
        words, _ = split_line(line)
        if not words or words[0] == "apply":
            ns = argparse.Namespace(mode="merge", dry_run=False, wait=120.0)
            if words:
                ns, _ = parse(line)
                if ns.command == "help":
                    return self._do_help(ns)
                if ns.file:
                    raise UsageError("%%svc apply takes the manifest from the cell, not -f")
            return self._apply(load_manifest(cell, "the cell"), ns)
        name = words[0]
        try:
            template = registry.get(name)
        except KeyError:
            raise UsageError(f"%%svc takes `apply` or a template ({', '.join(self._cell_templates())}), "
                             f"not {name!r}") from None
        if not template.source_param:
            raise UsageError(f"template {name!r} does not serve code from a cell; use `%svc {name} ...`")
        ns, _ = parse(line)
        if ns.command == "help":
            return self._do_help(ns)
        _check_name(ns.name)  # before a folder is made for it
        source = next(p for p in template.params if p.name == template.source_param)
        written = write_cell(template, ns.name, cell)
        params = template_params(template, ns, [])
        params[source.name] = str(written.folder if source.kind == "dir" else written.path)
        return self._deploy(template, ns.name, params, ns, code_changed=written.changed,
                            annotations=annotations_for(written), cell=True)

    @staticmethod
    def _cell_templates() -> list[str]:
        return [t.name for t in registry.all() if t.source_param]

    # -- showing results ----------------------------------------------------------------------

    def _card(self, view: ServiceView, note: str = "") -> ServiceCard:
        card = ServiceCard(view, self.client.link(view), "", note)
        if card.failed and not card.message_has_logs:
            with contextlib.suppress(ApiError):
                card.logs = self.client.logs(view.name, 20)
        return card

    def _act(self, text: str, call: Any, *args: Any, note: str = "") -> None:
        """Show progress (state, seconds, last log line) while ``call`` runs, then the state and link,
        or the error and the last log lines once; a service that failed to start fails the cell."""
        name = args[0] if isinstance(args[0], str) else str(args[0].get("name", ""))
        waiting = Waiting(self.client, text, name)
        view = waiting.run(call, *args)
        card = self._card(view, note or f"{waiting.elapsed:.1f}s")
        waiting.show(card)
        if card.failed and text.startswith(_STARTING):
            reason = view.status.message.splitlines()[0] if view.status.message else ""
            raise SvcMagicError(reason if reason.startswith(name) else f"{name} failed: {reason or 'see its log'}")

    # -- subcommands --------------------------------------------------------------------------

    def _do_help(self, ns: argparse.Namespace) -> None:
        print(help_text(ns.topic))

    def _do_list(self, ns: argparse.Namespace) -> ServiceTable | None:
        views = self.client.list()
        self._names = (time.monotonic(), [v.name for v in views])
        if ns.json:
            print(json.dumps([v.model_dump(mode="json") for v in views], indent=2))
            return None
        return ServiceTable(views, self.client.link)

    def _do_get(self, ns: argparse.Namespace) -> None:
        view = self.client.get(ns.name)
        if ns.json:
            print(view.model_dump_json(indent=2))
            return
        display(self._card(view))
        print(yaml.safe_dump(view.spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False).rstrip())

    def _do_create(self, ns: argparse.Namespace, command: list[str]) -> None:
        # a shell command is kept as typed after ' -- ' (quotes included), not re-joined from words
        shell_text = self._line.split(" -- ", 1)[1].strip() if " -- " in self._line else None
        spec = create_spec(ns, command, shell_text)
        spec.setdefault("cwd", os.getcwd())  # the notebook's folder, not the server's
        create = bound_call(self.client.create, bind(spec, ns, by_default=False))
        try:
            self._act(f"starting {ns.name}…", create, spec, wait_of(ns))
        except ApiError as exc:
            raise reworded(exc, "create", ns.name) from None

    def _do_update(self, ns: argparse.Namespace) -> None:
        self._act(f"updating {ns.name}…", self.client.update, ns.name, update_patch(ns), wait_of(ns))

    def _do_restart(self, ns: argparse.Namespace) -> None:
        self._act(f"restarting {ns.name}…", self.client.restart, ns.name, wait_of(ns))

    def _do_wake(self, ns: argparse.Namespace) -> None:
        self._act(f"waking {ns.name}…", self.client.wake, ns.name, wait_of(ns))

    def _do_stop(self, ns: argparse.Namespace) -> None:
        self._act(f"scaling {ns.name} to zero…", self.client.stop, ns.name, wait_of(ns))

    def _do_scale(self, ns: argparse.Namespace) -> None:
        self._act(f"scaling {ns.name} to {ns.replicas}…", self.client.scale, ns.name, ns.replicas, wait_of(ns))

    def _do_enable(self, ns: argparse.Namespace) -> None:
        self._act(f"enabling {ns.name}…", self.client.enable, ns.name, wait_of(ns))

    def _do_disable(self, ns: argparse.Namespace) -> None:
        self._act(f"disabling {ns.name}…", self.client.disable, ns.name, wait_of(ns))

    def _do_delete(self, ns: argparse.Namespace) -> None:
        self._names = (0.0, [])
        for name in ns.names:
            view = self.client.get(name)
            self.client.delete(name)
            folder = remove_cell_folder(view)
            print(f"deleted {name}" + (f" and its cell's folder {folder}" if folder else ""))

    def _do_logs(self, ns: argparse.Namespace) -> None:
        if not ns.follow:
            print(self.client.logs(ns.name, ns.tail).rstrip("\n"))
            return
        for line in self.client.follow_logs(ns.name, ns.tail, timeout=ns.timeout):
            print(line, flush=True)

    def _do_open(self, ns: argparse.Namespace) -> Link:
        view = self.client.get(ns.name)
        return Link(self.client.link(view), f"open {ns.name} ({view.status.state.value})")

    def _do_apply(self, ns: argparse.Namespace) -> ApplyTable:
        if not ns.file:
            raise UsageError("apply needs -f FILE (or use %%svc apply with the manifest in the cell)\n"
                             "usage: %svc apply -f FILE [--mode merge|replace] [--dry-run]")
        try:
            text = Path(ns.file).expanduser().read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {ns.file}: {exc.strerror or exc}") from None
        return self._apply(load_manifest(text, ns.file), ns)

    def _apply(self, manifest: Any, ns: argparse.Namespace) -> ApplyTable:
        report = self.client.apply(_in_this_folder(manifest), ns.mode, ns.dry_run, None if ns.dry_run else ns.wait)
        self._names = (0.0, [])
        table = ApplyTable(report)
        if not report.ok:
            display(table)
            failed = ", ".join(r.name for r in report.results if r.action in ("failed", "invalid")) or "some services"
            raise SvcMagicError(f"apply failed for {failed} (see the table above)")
        return table

    def _do_schema(self, ns: argparse.Namespace) -> None:
        schema = self.client.schema()
        print(json.dumps(schema, indent=2) if ns.json else schema_table(schema))

    def _do_templates(self, ns: argparse.Namespace) -> None:
        print(templates_table(registry.all()))

    def _do_connect(self, ns: argparse.Namespace) -> None:
        client = Client(ns.url, ns.token)
        client.list()
        self._client = client
        print(f"connected to {client.server.url}")

    # -- templates ----------------------------------------------------------------------------

    def _deploy(self, template: Template, name: str, params: dict[str, Any], ns: argparse.Namespace,
                code_changed: bool = False, annotations: dict[str, Any] | None = None, cell: bool = False) -> None:
        """Create or update a template's service; a cell's lives as long as its kernel by default."""
        spec = template_spec(template, name, params, ns)
        if template.socket_build is not None and self._prefers_sockets(spec.get("backend")):
            spec = template_spec(template, name, params, ns, unix_socket=True)
        spec.setdefault("cwd", os.getcwd())  # the notebook's folder, not the server's
        explicit = bind(spec, ns, by_default=cell)
        if annotations:
            spec["annotations"] = {**spec.get("annotations", {}), **annotations}
        try:
            existing: ServiceView | None = self.client.get(name)
        except ApiError as exc:
            if exc.status_code != 404:
                raise
            existing = None
        wait = wait_of(ns)
        if existing is None:
            self._act(f"starting {name} ({template.name})…", bound_call(self.client.put, explicit), spec, wait)
        elif _same_runtime(existing, spec) and (existing.status.state.value != "ready"
                                                or (code_changed and not template.reloads)):
            # the server keeps an instance whose spec did not change, and leaves a failed one failed:
            # a re-run starts it again, for the new code or after the cause was fixed (a pip install)
            why = "with the new code" if code_changed else "again"
            self._act(f"restarting {name} {why}…", bound_call(self._put_and_restart, explicit), spec, wait)
        else:
            self._act(f"updating {name} ({template.name})…", bound_call(self.client.put, explicit), spec, wait)

    def _prefers_sockets(self, backend: str | None) -> bool:
        """Whether the backend the spec goes to asks templates for Unix sockets (GET backends)."""
        try:
            document = self.client.backends()
        except ApiError:  # an older server without the route: ports, as before
            return False
        wanted = backend or document.get("default")
        return any(b.get("name") == wanted and b.get("unix_sockets") for b in document.get("backends", []))

    def _put_and_restart(self, spec: dict[str, Any], wait: float | None) -> ServiceView:
        """The spec's other fields (description, idle window...), then a fresh instance: one step."""
        self.client.put(spec, wait)
        return self.client.restart(str(spec["name"]), wait)

    # -- completion -----------------------------------------------------------------------------

    def service_names(self) -> list[str]:
        stamp, names = self._names
        if time.monotonic() - stamp > 5:
            try:
                names = [v.name for v in self.client.list()]
            except ApiError:
                names = []
            self._names = (time.monotonic(), names)
        return names

    def complete(self, text_until_cursor: str) -> list[str]:
        """Candidates for the word at the end of ``text_until_cursor`` (a ``%svc`` line)."""
        words = text_until_cursor.split()
        current = "" if text_until_cursor.endswith(" ") or not words else words.pop()
        args = words[1:]
        subcommands = [*COMMANDS, *(t for t in registry.names() if t not in COMMANDS)]
        if words and words[0].startswith("%%"):
            subcommands = ["apply", *self._cell_templates()]
        if not args or (len(args) == 1 and args[0] == "help"):
            options = subcommands
        elif len(args) == 1 and args[0] in NAMED and not current.startswith("-"):
            options = self.service_names()
        elif current.startswith("-"):
            options = flags_of(args[0])
        else:
            options = []
        return [o for o in options if o.startswith(current)]


def _check_name(name: str) -> None:
    from pydantic import TypeAdapter, ValidationError

    from jupyter_svc.model.spec import ServiceName

    try:
        TypeAdapter(ServiceName).validate_python(name)
    except ValidationError as exc:
        raise UsageError(f"{name!r} is not a service name: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") \
            from None


def _same_runtime(existing: ServiceView, spec: dict[str, Any]) -> bool:
    from pydantic import ValidationError

    from jupyter_svc.model.spec import ServiceSpec

    try:
        return existing.spec.runtime_view() == ServiceSpec.model_validate(spec).runtime_view()
    except ValidationError:
        return False


def _in_this_folder(manifest: Any) -> Any:
    """A manifest's specs without ``cwd`` run in the notebook's folder (the kernel's), as ``create`` does."""
    specs = manifest.get("services") if isinstance(manifest, dict) else manifest
    for spec in specs if isinstance(specs, list) else []:
        if isinstance(spec, dict) and "cwd" not in spec and "url" not in spec:
            spec["cwd"] = os.getcwd()
    return manifest


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%svc``/``%%svc`` and their tab completion (``%load_ext jupyter_svc``)."""
    magics = SvcMagics(ipython)
    SvcMagics.svc.__doc__ = help_text()
    ipython.register_magics(magics)

    def complete(_self: Any, event: Any) -> list[str]:
        return magics.complete(event.text_until_cursor)

    for key in ("%svc", "%%svc"):
        ipython.set_hook("complete_command", complete, str_key=key)
