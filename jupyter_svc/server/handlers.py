"""REST API: thin handlers over the manager; each method authenticated and authorized.

Jupyter's Authorizer decides, on resource ``svc``: ``read`` to list and read services, their logs
and events; ``write`` to change what is stored (create, update, patch, apply); ``execute`` to act
on what runs (restart, enable, disable, wake, scale, mark busy, delete, and use a service through
the proxy).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from jupyter_server.base.handlers import APIHandler
from pydantic import ValidationError
from tornado import web
from tornado.iostream import StreamClosedError

from jupyter_svc.model.errors import FieldError, NotFound, SpecInvalid, SvcError, from_validation_error
from jupyter_svc.model.names import check_name, name_route
from jupyter_svc.model.secret_env import restore_masked_secrets
from jupyter_svc.model.spec import ApplyMode, Manifest, ServiceSpec, spec_json_schema_text
from jupyter_svc.model.status import ServiceView
from jupyter_svc.proxy.compat import not_server_activity
from jupyter_svc.services.batch import apply_manifest
from jupyter_svc.services.manager import Operation, ServiceManager

from . import query
from .request_body import BadRequest, BodyCollector, parse_json

#: The resource name Jupyter's authorizer sees for everything in this extension.
AUTH_RESOURCE = "svc"
NAME = name_route(reserved=True)


@web.stream_request_body  # so that a body over api_max_body_size is counted, never kept
class SvcHandler(APIHandler):
    auth_resource = AUTH_RESOURCE
    _collector: BodyCollector | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        await self.manager.restored.wait()  # a 503 if the services are not back within a minute
        declared = self.request.headers.get("Content-Length", "")
        self._collector = BodyCollector(self.settings.get("jupyter_svc_api_max_body_size", 1024**2),
                                        int(declared) if declared.isdigit() else None)

    def data_received(self, chunk: bytes) -> None:
        if self._collector is not None:
            self._collector.add(chunk)

    @property
    def manager(self) -> ServiceManager:
        manager: ServiceManager = self.settings["jupyter_svc_manager"]
        return manager

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, SvcError):  # expected: the client gets the reason, the log no traceback
            self.log.info("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, SvcError):
            self.set_status(exc.status_code)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": str(exc), "reason": exc.message,
                                    "errors": [e.as_dict() for e in exc.errors]}))
            return
        if status_code == 405:  # RFC 9110: say which methods the route has
            self.set_header("Allow", ", ".join(m for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
                                              if getattr(type(self), m.lower()) is not getattr(SvcHandler, m.lower())))
        super().write_error(status_code, **kwargs)

    def stored_spec(self, name: Any) -> ServiceSpec | None:
        """The spec in force for ``name``, if any: masked secrets sent back take their values."""
        try:
            return self.manager.service(name).spec if isinstance(name, str) else None
        except NotFound:
            return None

    def spec_body(self, name: str | None = None) -> dict[str, Any]:
        """The body as a spec (or merge patch), each secret mask replaced by the stored value."""
        data = self.body_object()
        return dict(restore_masked_secrets(data, self.stored_spec(name or data.get("name"))))

    def body(self) -> Any:
        return parse_json(self._collector.body() if self._collector is not None else b"")

    def body_object(self) -> dict[str, Any]:
        data = self.body()
        if not isinstance(data, dict):
            raise BadRequest("request body must be a JSON object")
        return data

    def wait_seconds(self) -> float:
        return query.wait_seconds(self)

    def write_view(self, view: ServiceView, status: int = 200) -> None:
        self.set_status(status)
        self.finish(view.model_dump_json())

    async def finish_operation(self, name: str, operation: Operation, created: bool = False) -> None:
        """Answer at once (202) or, with ``?wait=``, once the service settles."""
        wait = self.wait_seconds()
        view = await self.manager.wait_settled(operation, wait) if wait else None
        if view is None:
            self.write_view(self.manager.get(name), 201 if created else 202)
        else:
            self.write_view(view, 201 if created else 200)

    async def stream(self, lines: AsyncIterator[str], keepalive: str | None = None) -> None:
        """Send ``lines`` as they come until the client goes away."""
        self._closed = asyncio.Event()

        async def pump() -> None:
            async for line in lines:
                self.write(line)
                await self.flush()

        task = asyncio.ensure_future(pump())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            while not task.done():
                await asyncio.wait([task, closed], timeout=15, return_when=asyncio.FIRST_COMPLETED)
                if closed.done():
                    break
                if keepalive and not task.done():
                    self.write(keepalive)
                    await self.flush()
        except StreamClosedError:
            pass
        finally:
            task.cancel()
            closed.cancel()
            await asyncio.gather(task, closed, return_exceptions=True)
            await lines.aclose()  # type: ignore[attr-defined]
        if not self._closed.is_set():
            self.finish()

    def on_connection_close(self) -> None:
        closed = getattr(self, "_closed", None)
        if closed is not None:
            closed.set()


class ServicesHandler(SvcHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        views = [v.model_dump(mode="json") for v in self.manager.views()]
        self.finish(json.dumps({"services": views}))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        spec = self.manager.parse(self.spec_body())
        await self.finish_operation(spec.name, await self.manager.create(spec), created=True)


class ServiceHandler(SvcHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_view(self.manager.get(name))

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        data = self.spec_body(name)
        if data.setdefault("name", name) != name:
            raise SpecInvalid("invalid service spec", [FieldError("name", f"does not match the URL ({name!r})")])
        operation, created = await self.manager.create_or_update(self.manager.parse(data))
        await self.finish_operation(name, operation, created)

    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        await self.finish_operation(name, await self.manager.patch(name, self.spec_body(name)))

    @web.authenticated
    @authorized("execute")  # it stops what runs
    async def delete(self, name: str) -> None:
        await self.manager.delete(name)
        self.set_status(204)
        self.finish()


class ActionHandler(SvcHandler):
    """POST services/{name}/{restart|enable|disable|wake|scale}."""

    @web.authenticated
    @authorized("execute")
    async def post(self, name: str, action: str) -> None:
        manager = self.manager
        if action == "restart":
            operation = await manager.restart(name)
        elif action in ("enable", "disable"):
            operation = await manager.set_enabled(name, action == "enable")
        elif action == "wake":
            operation = await manager.wake(name)
        else:
            operation = await manager.scale(name, query.replicas(self.body_object()))
        await self.finish_operation(name, operation)


class LogsHandler(SvcHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        view = self.manager.get(name)  # 404 for unknown names
        tail, following = query.tail_lines(self), query.flag(self, "follow")
        # a sidecar's or init step's log, only when asked (a backend with one log per service refuses it)
        chosen = {"container": c} if (c := self.get_query_argument("container", "")) else {}
        backend = self.manager.service(view.name).backend
        lines = await backend.log_tail(name, tail, **chosen)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.write("".join(line + "\n" for line in lines))
        if not following:
            self.finish(set_content_type="text/plain; charset=utf-8")  # APIHandler's default is JSON
            return
        self.set_header("X-Accel-Buffering", "no")
        await self.flush()
        await self.stream(line + "\n" async for line in backend.follow_logs(name, **chosen))


class EventsHandler(SvcHandler):
    """Server-sent events: every service once, then each change as it happens."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        changes = self.manager.subscribe()
        for view in self.manager.views():
            self.write(f"event: service\ndata: {view.model_dump_json()}\n\n")
        await self.flush()

        async def events() -> AsyncIterator[str]:
            async for event in changes:
                data = event.view.model_dump_json() if event.view else json.dumps({"name": event.name})
                yield f"event: {event.kind}\ndata: {data}\n\n"

        await self.stream(events(), keepalive=": keepalive\n\n")


class ApplyHandler(SvcHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        data = self.body_object()
        unknown = sorted(set(data) - {"manifest", "mode", "dry_run"})
        if unknown:
            raise SpecInvalid("invalid apply request", [FieldError(k, "unknown field") for k in unknown])
        try:
            mode = ApplyMode(data.get("mode", "merge"))
        except ValueError:
            raise SpecInvalid("invalid apply request", [FieldError("mode", "must be 'merge' or 'replace'")]) from None
        if "manifest" not in data:
            raise SpecInvalid("invalid apply request", [FieldError("manifest", "is required")])
        try:
            manifest = Manifest.model_validate(self._restore_manifest_secrets(data["manifest"]))
        except ValidationError as exc:
            raise SpecInvalid("manifest rejected; nothing was applied",
                              from_validation_error(exc, "manifest")) from None
        dry_run = data.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise SpecInvalid("invalid apply request", [FieldError("dry_run", "must be true or false")])
        results = await apply_manifest(self.manager, manifest, mode, dry_run, self.wait_seconds())
        ok = all(r["action"] != "failed" for r in results)
        self.finish(json.dumps({"ok": ok, "dry_run": dry_run, "results": results}))


    def _restore_manifest_secrets(self, manifest: Any) -> Any:
        services = manifest.get("services") if isinstance(manifest, dict) else manifest
        if not isinstance(services, list):
            return manifest
        restored = [restore_masked_secrets(entry, self.stored_spec(entry.get("name")), f"manifest.services[{i}].")
                    if isinstance(entry, dict) else entry for i, entry in enumerate(services)]
        return {**manifest, "services": restored} if isinstance(manifest, dict) else restored


class SchemaHandler(SvcHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(spec_json_schema_text())


class OpenAPIHandler(SvcHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from .openapi import openapi_text

        cookie = getattr(self.identity_provider, "get_cookie_name", lambda _: "")(self) or "username"
        self.finish(openapi_text(self.base_url, cookie))


class ServiceActivityHandler(SvcHandler):
    """POST services/{name}/activity: a service busy without traffic (a job) says so."""

    @web.authenticated
    @authorized("execute")
    async def post(self, name: str) -> None:
        self.manager.get(name)
        self.settings["jupyter_svc_activity"].touch(name)
        self.write_view(self.manager.get(name))


@not_server_activity  # polling this must not keep the server awake
class ServerActivityHandler(SvcHandler):
    """The server's own idleness in one document, for scalers of the Jupyter server itself."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from .idleness import activity_document

        self.finish(json.dumps(activity_document(self.settings, self.settings["jupyter_svc_activity"])))


@not_server_activity
class MetricsHandler(SvcHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST

        self.finish(self.settings["jupyter_svc_metrics"].render(), set_content_type=CONTENT_TYPE_LATEST)


class BackendsHandler(SvcHandler):
    """GET backends: the backends here and the spec fields each cannot honour (the panel hides them)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from .backend_info import backends_document

        self.finish(json.dumps(backends_document(self.manager)))


class UnmatchedHandler(SvcHandler):
    """Any other path under ``svc/api/``: a JSON answer, never Jupyter's HTML 404 page. A
    ``services/<segment>`` that is no service name is a 422 naming ``name``, as a POST of it is.
    It defines no HTTP method, so it is answered from ``prepare`` (after Jupyter's
    authentication, and the XSRF check of writes) and the OpenAPI document has nothing to list."""

    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler.prepare
        await super().prepare()
        user = self.current_user
        action = HTTP_METHOD_TO_AUTH_ACTION.get(self.request.method or "GET", "read")
        # (not @authorized: that decorator keeps the action of its first call for every later one)
        if not user or not await ensure_async(self.authorizer.is_authorized(self, user, action, AUTH_RESOURCE)):
            raise web.HTTPError(403)
        name = self.path_kwargs.get("name")
        if name is not None:
            try:
                check_name(name)
            except ValueError as exc:
                raise SpecInvalid("invalid service name", [FieldError("name", str(exc))]) from None
        raise NotFound(f"no API route {self.request.method} {self.request.path}")


def api_routes() -> list[tuple[str, type[SvcHandler]]]:
    """Routes relative to ``{base_url}svc/api/``; openapi.py documents exactly these (the last
    two answer every other path with a JSON error)."""
    from .templates_api import template_routes  # (it imports SvcHandler from here)
    return [
        ("services", ServicesHandler),
        (f"services/{NAME}", ServiceHandler),
        (f"services/{NAME}/(?P<action>restart|enable|disable|wake|scale)", ActionHandler),
        (f"services/{NAME}/logs", LogsHandler),
        (f"services/{NAME}/activity", ServiceActivityHandler),
        ("activity", ServerActivityHandler),
        ("metrics", MetricsHandler),
        ("events", EventsHandler),
        ("apply", ApplyHandler),
        ("schema", SchemaHandler),
        ("openapi.json", OpenAPIHandler),
        ("backends", BackendsHandler),
        *template_routes(),
        ("services/(?P<name>[^/]+)(?:/.*)?", UnmatchedHandler),
        ("(?P<path>.*)", UnmatchedHandler),
    ]
