"""Benchmark-only Jupyter server extension: the ceilings a proxy inside Jupyter cannot pass.

Loaded into the jupyter-svc benchmark server (never part of the package):

* ``/bench/plain/1k`` and ``/bench/plain/1m``: a bare tornado ``RequestHandler`` answering from
  memory, no authentication, no ETag. No handler of this server, proxy or not, answers faster.
* ``/bench/auth/1k``: the same behind Jupyter's ``@web.authenticated`` + ``@authorized``: what
  Jupyter's own request handling costs before a proxy does anything.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

BODIES = {"1k": b"k" * 1024, "1m": b"m" * 1024 * 1024}


class PlainHandler(web.RequestHandler):
    def compute_etag(self) -> None:
        return None

    def get(self, size: str) -> None:
        self.write(BODIES[size])


class AuthenticatedHandler(JupyterHandler):
    auth_resource = "svc"

    def compute_etag(self) -> None:
        return None

    @web.authenticated
    @authorized
    def get(self, size: str) -> None:
        self.write(BODIES[size])


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "ceiling_ext"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.web_app.add_handlers(".*$", [
        (r"/bench/plain/(1k|1m)", PlainHandler),
        (r"/bench/auth/(1k|1m)", AuthenticatedHandler),
    ])
