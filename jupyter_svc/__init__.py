"""jupyter-svc: web services (Streamlit, Voila, Panel, ...) managed from Jupyter, scaled to zero."""

from __future__ import annotations

from typing import Any

from jupyter_svc._version import __version__

__all__ = ["AsyncClient", "Client", "__version__"]


def __getattr__(name: str) -> Any:
    """``jupyter_svc.Client`` without importing the client when the server loads the extension."""
    if name in ("Client", "AsyncClient"):
        from jupyter_svc import client

        return getattr(client, name)
    raise AttributeError(name)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from jupyter_svc.server.app import SvcExtension

    return [{"module": "jupyter_svc.server.app", "app": SvcExtension}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-svc"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_svc` registers the %svc and %%svc magics."""
    from jupyter_svc.notebook.magics import load_ipython_extension as load

    load(ipython)
