"""Which URLs reach the proxy: ``svc/<name>/...`` for every name the spec allows, except the
reserved ones (``svc/api/...`` is the REST API)."""

from __future__ import annotations

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from jupyter_svc.model.names import name_route

from .handler import ProxyHandler


class ServiceRootRedirect(JupyterHandler):
    """``svc/<name>`` -> ``svc/<name>/`` so that relative links in the app resolve."""

    @allow_unauthenticated
    def get(self, name: str) -> None:
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(f"{self.base_url}svc/{name}/{query}", permanent=False)


def proxy_routes() -> list[tuple[str, type[web.RequestHandler]]]:
    name = name_route(reserved=False)
    return [(rf"/svc/{name}", ServiceRootRedirect), (rf"/svc/{name}(?P<path>/.*)", ProxyHandler)]


def route_first(app: web.Application) -> bool:
    """Move the rules of this extension to the front of the server's routing table: a request is
    matched against every pattern before its own, and those of the extensions loaded earlier
    cost each proxied request ~10 us. Nothing else serves ``svc/``, so no other route changes."""
    rules = app.default_router.rules
    for index, rule in enumerate(rules):
        if any(getattr(inner, "target", None) is ProxyHandler for inner in getattr(rule.target, "rules", ())):
            rules.insert(0, rules.pop(index))
            return True
    return False
