"""Templates: a name and a few parameters in, a :class:`ServiceSpec` out.

Each built-in uses its framework's own flag for serving under ``{base_url}`` (so links and
websockets work through the proxy) and runs with the current Python, so a template made in a kernel
runs the packages of that kernel's environment. Those whose framework can listen on a Unix socket
(bokeh, panel: ``--unix-socket``; uvicorn: ``uds``) have a second form on ``{unix_socket}``, used
when the server's backend prefers sockets (GET backends: ``unix_sockets``; streamlit, voila,
tensorboard, gradio, dash's dev server and http.server have no such option). Other packages add templates through the
``jupyter_svc.templates`` entry-point group: each entry point loads a :class:`Template`.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from jupyter_svc.model.spec import ServiceSpec

ENTRY_POINT_GROUP = "jupyter_svc.templates"
LOCAL = "127.0.0.1"


@dataclass(frozen=True)
class Param:
    """One template parameter; ``kind`` is how a command-line value is read."""

    name: str
    help: str
    default: Any = None
    required: bool = False
    kind: str = "str"  # "str", "path" (a file), "dir" (a folder), "int", "bool", "argv"


Builder = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Template:
    """Maps parameters to a spec (as a dict without ``name``); see :meth:`spec`."""

    name: str
    description: str
    build: Builder
    params: tuple[Param, ...] = ()
    source_param: str | None = None  # parameter that receives the file written from a %%svc cell
    source_file: str = "app.py"  # name of that file (".ipynb": the cell becomes a one-cell notebook)
    framework: str | None = None  # module that must be importable for the template to run
    reloads: bool = False  # True: the app re-reads its source itself; False: a cell re-run restarts it
    example: str = ""
    #: the same app listening on ``{unix_socket}`` instead of ``{port}``, if its framework can
    socket_build: Builder | None = None

    def values(self, params: Mapping[str, Any], base: str | None = None) -> dict[str, Any]:
        """Every parameter's value (defaults filled in); a relative path is made absolute from
        ``base`` (the server's root folder), or from this process's folder."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(f"template {self.name!r} has no parameter {', '.join(unknown)} "
                             f"(it takes: {', '.join(known) or 'none'})")
        out: dict[str, Any] = {}
        for p in self.params:
            value = params.get(p.name, p.default)
            if value is None and p.required:
                raise ValueError(f"template {self.name!r} needs {p.name}: {p.help}")
            if p.kind in ("path", "dir") and isinstance(value, str):
                # the server's cwd is not ours
                value = os.path.abspath(os.path.join(base or os.getcwd(), os.path.expanduser(value)))
            out[p.name] = value
        return out

    def spec_dict(self, name: str, params: Mapping[str, Any] | None = None,
                  overrides: Mapping[str, Any] | None = None, unix_socket: bool = False,
                  base: str | None = None) -> dict[str, Any]:
        """``unix_socket``: listen on ``{unix_socket}`` where the framework can (else on ``{port}``);
        ``base``: where relative paths are from (see :meth:`values`)."""
        build = self.socket_build if unix_socket and self.socket_build is not None else self.build
        data = build(self.values(params or {}, base))
        data.setdefault("description", f"{self.name} app")
        data.setdefault("labels", {})["jupyter-svc/template"] = self.name
        data.update(overrides or {})
        data["name"] = name
        return data

    def spec(self, name: str, params: Mapping[str, Any] | None = None,
             overrides: Mapping[str, Any] | None = None) -> ServiceSpec:
        """Validated spec; pydantic's ValidationError if the overrides make it invalid."""
        return ServiceSpec.model_validate(self.spec_dict(name, params, overrides))

    def available(self) -> bool:
        """Whether the framework is importable here (the spec itself can be made regardless)."""
        if not self.framework:
            return True
        from importlib.util import find_spec

        return find_spec(self.framework) is not None


def _py() -> str:
    return sys.executable or "python3"


def _folder(path: str) -> str:
    return path if os.path.isdir(path) else os.path.dirname(path) or "."


# A few frameworks only start from Python (dash, gradio) or reject a trailing '/' in their prefix
# (uvicorn's root_path): a one-line runner takes the script, the object name, {port}, {base_url}.
_RUN_OBJECT = (
    "import runpy, sys; sys.path.insert(0, '.'); "
    "ns = runpy.run_path(sys.argv[1], run_name='__jupyter_svc__'); app = ns[sys.argv[2]]; "
    "port, prefix = int(sys.argv[3]), sys.argv[4].rstrip('/'); "
)
_DASH = _RUN_OBJECT + "app.run(host='127.0.0.1', port=port, debug=False)"
_GRADIO = _RUN_OBJECT + "app.launch(server_name='127.0.0.1', server_port=port, root_path=prefix)"
_UVICORN = (
    "import sys, uvicorn; sys.path.insert(0, '.'); "
    "uvicorn.run(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2]), "
    "root_path=sys.argv[3].rstrip('/'), proxy_headers=True, forwarded_allow_ips='*')"
)
_UVICORN_UDS = _UVICORN.replace("host='127.0.0.1', port=int(sys.argv[2])", "uds=sys.argv[2]")


def _streamlit(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "command": [_py(), "-m", "streamlit", "run", v["script"], "--server.port", "{port}",
                    "--server.address", LOCAL, "--server.baseUrlPath", "{base_url}",
                    "--server.headless", "true", "--browser.gatherUsageStats", "false",
                    "--server.enableCORS", "false", "--server.enableXsrfProtection", "false"],
        "cwd": _folder(v["script"]), "rewrite_path": False,
        "readiness": {"path": "/_stcore/health"},
    }


def _voila(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "command": [_py(), "-m", "voila", v["notebook"], "--no-browser", "--port={port}",
                    f"--Voila.ip={LOCAL}", "--Voila.base_url={base_url}"],
        "cwd": _folder(v["notebook"]), "rewrite_path": False,
    }


def _bokeh_like(module: str, unix_socket: bool = False) -> Builder:
    listen = ["--unix-socket", "{unix_socket}"] if unix_socket else ["--port", "{port}", "--address", LOCAL]

    def build(v: Mapping[str, Any]) -> dict[str, Any]:
        stem = os.path.splitext(os.path.basename(v["script"]))[0]
        return {
            "command": [_py(), "-m", module, "serve", v["script"], *listen,
                        "--prefix", "{base_url}", "--allow-websocket-origin", "*"],
            "cwd": _folder(v["script"]), "rewrite_path": False,
            "readiness": {"path": f"/{stem}"},
        }
    return build


def _runner(code: str) -> Builder:
    def build(v: Mapping[str, Any]) -> dict[str, Any]:
        return {"command": [_py(), "-c", code, v["script"], v["object"], "{port}", "{base_url}"],
                "cwd": _folder(v["script"]), "rewrite_path": code is _GRADIO,
                "env": {"DASH_URL_BASE_PATHNAME": "{base_url}"} if code is _DASH
                else {"GRADIO_ANALYTICS_ENABLED": "False"}}  # no calls home from a closed network
    return build


def _fastapi(v: Mapping[str, Any]) -> dict[str, Any]:
    return {"command": [_py(), "-c", _UVICORN, v["app"], "{port}", "{base_url}"],
            "cwd": v["cwd"], "rewrite_path": True}


def _fastapi_on_socket(v: Mapping[str, Any]) -> dict[str, Any]:
    return {"command": [_py(), "-c", _UVICORN_UDS, v["app"], "{unix_socket}", "{base_url}"],
            "cwd": v["cwd"], "rewrite_path": True}


def _tensorboard(v: Mapping[str, Any]) -> dict[str, Any]:
    return {"command": [_py(), "-m", "tensorboard.main", "--logdir", v["logdir"], "--host", LOCAL,
                        "--port", "{port}", "--path_prefix", "{base_url}"],
            "rewrite_path": False}


def _mlflow(v: Mapping[str, Any]) -> dict[str, Any]:
    store = f" --backend-store-uri {shlex.quote(v['store'])}" if v.get("store") else ""
    # mlflow refuses a static prefix that ends with '/': the shell trims it
    return {"command": f"exec {shlex.quote(_py())} -m mlflow ui --host {LOCAL} --port {{port}} --workers 1{store} "
                       '--static-prefix "${JUPYTER_SVC_PREFIX%/}"',
            "shell": True, "env": {"JUPYTER_SVC_PREFIX": "{base_url}"}, "rewrite_path": False}


def _http(v: Mapping[str, Any]) -> dict[str, Any]:
    return {"command": [_py(), "-m", "http.server", "{port}", "--bind", LOCAL, "--directory", v["directory"]],
            "rewrite_path": True}


def _command(v: Mapping[str, Any]) -> dict[str, Any]:
    command = v["command"]
    if isinstance(command, str):
        return {"command": command, "shell": True, "rewrite_path": bool(v["rewrite_path"])}
    return {"command": list(command), "rewrite_path": bool(v["rewrite_path"])}


_SCRIPT = Param("script", "path of the app's Python file", required=True, kind="path")


def builtin_templates() -> list[Template]:
    obj = "name of the app object in the script"
    return [
        Template("streamlit", "Streamlit app (a script)", _streamlit, (_SCRIPT,), "script",
                 framework="streamlit", example="%svc streamlit dash1 --script app.py"),
        Template("voila", "Voila dashboard from a notebook", _voila,
                 (Param("notebook", "path of the .ipynb", required=True, kind="path"),), "notebook",
                 source_file="app.ipynb", framework="voila",
                 example="%svc voila report --notebook report.ipynb"),
        Template("panel", "Panel app (panel serve)", _bokeh_like("panel"), (_SCRIPT,), "script",
                 framework="panel", example="%svc panel explorer --script app.py",
                 socket_build=_bokeh_like("panel", unix_socket=True)),
        Template("bokeh", "Bokeh server app (bokeh serve)", _bokeh_like("bokeh"), (_SCRIPT,), "script",
                 framework="bokeh", example="%svc bokeh plot --script app.py",
                 socket_build=_bokeh_like("bokeh", unix_socket=True)),
        Template("dash", "Dash app (a script defining `app`)", _runner(_DASH),
                 (_SCRIPT, Param("object", obj, "app")), "script", framework="dash",
                 example="%svc dash board --script app.py"),
        Template("gradio", "Gradio app (a script defining `demo`)", _runner(_GRADIO),
                 (_SCRIPT, Param("object", obj, "demo")), "script", framework="gradio",
                 example="%svc gradio demo --script app.py"),
        Template("fastapi", "ASGI app served by uvicorn (module:object)", _fastapi,
                 (Param("app", "import path module:object", "app:app"),
                  Param("cwd", "folder the module is imported from", ".", kind="dir")), "cwd",
                 framework="uvicorn", example="%svc fastapi api --app main:app --cwd src",
                 socket_build=_fastapi_on_socket),
        Template("tensorboard", "TensorBoard on a log folder", _tensorboard,
                 (Param("logdir", "folder of event files", required=True, kind="dir"),),
                 framework="tensorboard", example="%svc tensorboard tb --logdir runs"),
        Template("mlflow", "MLflow tracking UI", _mlflow,
                 (Param("store", "backend store URI (default ./mlruns)"),), framework="mlflow",
                 example="%svc mlflow tracking --store sqlite:///mlflow.db"),
        Template("http", "Static files from a folder (python -m http.server)", _http,
                 (Param("directory", "folder to serve", ".", kind="dir"),), "directory",
                 source_file="index.html", example="%svc http site --directory public"),
        Template("command", "Any command that listens on {port}", _command,
                 (Param("command", "argv list, or a shell string", required=True, kind="argv"),
                  Param("rewrite_path", "strip /svc/<name> before forwarding", True, kind="bool")),
                 example="%svc command api -- python -m http.server {port} --bind 127.0.0.1"),
    ]


@dataclass
class Registry:
    """Built-ins plus entry points, loaded once; :meth:`register` adds one at run time."""

    _templates: dict[str, Template] = field(default_factory=dict)
    _loaded: bool = False
    problems: list[str] = field(default_factory=list)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for template in builtin_templates():
            self._templates.setdefault(template.name, template)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = ep.load()
                template = loaded() if callable(loaded) and not isinstance(loaded, Template) else loaded
                if not isinstance(template, Template):
                    raise TypeError(f"expected a Template, got {type(template).__name__}")
            except Exception as exc:  # a broken plugin must not break the built-ins
                self.problems.append(f"template entry point {ep.name!r}: {exc}")
                continue
            self._templates[template.name] = template

    def register(self, template: Template) -> None:
        self._load()
        self._templates[template.name] = template

    def get(self, name: str) -> Template:
        self._load()
        try:
            return self._templates[name]
        except KeyError:
            raise KeyError(f"no template {name!r} (known: {', '.join(sorted(self._templates))})") from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._templates)

    def all(self) -> list[Template]:
        return [self.get(n) for n in self.names()]


registry = Registry()


def get_template(name: str) -> Template:
    return registry.get(name)


def template_names() -> list[str]:
    return registry.names()
