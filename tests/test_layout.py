"""The package's shape: public names at their documented paths, layers that import downward only,
modules small enough to read."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jupyter_svc"
MAX_MODULE_LINES = 400
LAYERS = ["model", "backends", "upstream", "services", "proxy", "server", "client", "notebook"]


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("jupyter_svc", "Client"),
        ("jupyter_svc", "AsyncClient"),
        ("jupyter_svc", "load_ipython_extension"),
        ("jupyter_svc", "_jupyter_server_extension_points"),
        ("jupyter_svc", "_jupyter_labextension_paths"),
        ("jupyter_svc.client", "Client"),
        ("jupyter_svc.client", "AsyncClient"),
        ("jupyter_svc.client", "ApiError"),
        ("jupyter_svc.widgets", "ServiceBoard"),
        ("jupyter_svc.widgets", "ServiceForm"),
        ("jupyter_svc.cli", "main"),
        ("jupyter_svc.model.spec", "ServiceSpec"),
        ("jupyter_svc.model.spec", "Manifest"),
        ("jupyter_svc.backends.base", "Backend"),
        ("jupyter_svc.notebook.templates", "ENTRY_POINT_GROUP"),
    ],
)
def test_public_name_at_documented_path(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is not None


def test_client_is_one_class_whatever_the_path() -> None:
    import jupyter_svc
    from jupyter_svc.client import AsyncClient, Client

    assert jupyter_svc.Client is Client
    assert jupyter_svc.AsyncClient is AsyncClient


def test_server_extension_point_names_the_app() -> None:
    import jupyter_svc
    from jupyter_svc.server.app import SvcExtension

    (point,) = jupyter_svc._jupyter_server_extension_points()
    assert point["app"] is SvcExtension
    assert importlib.import_module(point["module"]) is sys.modules["jupyter_svc.server.app"]
    assert SvcExtension.name == "jupyter_svc"


def test_installed_entry_points() -> None:
    """The `jupyter svc` command and the templates' group are what pip installed."""
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("jupyter-svc") == "jupyter_svc.cli:main"
    from jupyter_svc.notebook.templates import ENTRY_POINT_GROUP

    assert ENTRY_POINT_GROUP == "jupyter_svc.templates"


def test_top_level_is_the_architecture() -> None:
    """`ls jupyter_svc` shows one folder per layer and only a few facade modules beside them."""
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert folders == sorted(LAYERS)
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert modules == ["__init__.py", "_version.py", "cli.py", "widgets.py"]


def test_modules_stay_readable() -> None:
    too_long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_importing_the_package_loads_neither_server_nor_kernel_side() -> None:
    """`import jupyter_svc` (and its client) in a kernel must not pull in jupyter_server or IPython."""
    code = (
        "import sys, jupyter_svc, jupyter_svc.client;"
        "bad = [m for m in ('jupyter_server', 'IPython', 'jupyter_svc.server', 'jupyter_svc.proxy')"
        " if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_import_contracts_hold() -> None:
    """The import-linter contracts in pyproject.toml: layers point down; the kernel's side never imports
    the server's."""
    lint = shutil.which("lint-imports")
    assert lint, "import-linter is a test dependency"
    done = subprocess.run([lint, "--no-cache"], capture_output=True, text=True, timeout=120,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
