"""Backends are plugins: found by name in the ``jupyter_svc.backends`` entry-point group, made with
the server as their traitlets parent (options on their own class), imported only when configured.
The old server options of the local backend still work, as deprecated aliases."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import tomllib
from conftest import echo_command
from traitlets import Unicode

from jupyter_svc.backends import registry
from jupyter_svc.backends.base import Backend, Instance, LaunchContext
from jupyter_svc.backends.local import LocalBackend
from jupyter_svc.model.spec import ServiceSpec

ROOT = Path(__file__).resolve().parent.parent


class TinyBackend(Backend):
    """A third party's backend: it runs nothing, and says so with its own option."""

    refusal = Unicode("tiny runs nothing", help="What check() answers.").tag(config=True)

    def check(self, spec: ServiceSpec) -> list[Any]:
        from jupyter_svc.model.errors import FieldError

        return [FieldError("command", self.refusal)]

    async def start(self, spec: ServiceSpec, context: LaunchContext) -> Instance:
        raise AssertionError("never started: check() refuses every spec")

    async def log_tail(self, name: str, lines: int) -> list[str]:
        return []

    async def follow_logs(self, name: str) -> AsyncIterator[str]:  # type: ignore[override]
        return
        yield


def test_the_package_registers_its_backends_as_the_registry_knows_them() -> None:
    """pyproject.toml's entry points and registry.BUILTIN (used when the installed metadata is older)
    are the same table."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"][registry.GROUP] == registry.BUILTIN
    assert registry.backend_class("local") is LocalBackend


def test_kubernetes_is_registered_but_imported_only_when_configured() -> None:
    code = (
        "import sys, tempfile, pathlib\n"
        "from traitlets.config import LoggingConfigurable\n"
        "from jupyter_svc.backends import registry\n"
        "from jupyter_svc.backends.base import ServerInfo\n"
        "from jupyter_svc.server.backend_config import build_backends\n"
        "d = pathlib.Path(tempfile.mkdtemp())\n"
        "made = build_backends(LoggingConfigurable(), ['local'], ServerInfo(d, d))\n"
        "assert 'kubernetes' in registry.available()\n"
        "print(sorted(made), [m for m in sys.modules if m.startswith(('kubernetes', 'jupyter_svc.backends.kub'))])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "['local'] []", out.stderr


def test_an_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(Exception, match="no backend named 'nope' is installed"):
        registry.backend_class("nope")


@pytest.fixture
def jp_server_config(svc_state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # the mocked edge: an installed distribution's entry point, injected into importlib.metadata's
    # answer (tests/test_backend_contract.py uses a real .dist-info instead)
    tiny = EntryPoint("tiny", f"{__name__}:TinyBackend", registry.GROUP)
    real = registry.entry_points
    monkeypatch.setattr(registry, "entry_points", lambda group: [*real(group=group), tiny])
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_svc": True}},
        "SvcExtension": {"state_dir": str(svc_state_dir), "backends": ["local", "tiny", "missing"],
                         "port_range": [31000, 31010], "local_host": "127.0.0.1", "max_log_bytes": 4096},
        "LocalBackend": {"max_log_bytes": 8192},
        "TinyBackend": {"refusal": "tiny refuses, as configured"},
    }


async def test_a_third_party_backend_is_configured_and_asked_like_the_local_one(
        api: Any, jp_serverapp: Any, caplog: pytest.LogCaptureFixture) -> None:
    manager = jp_serverapp.web_app.settings["jupyter_svc_manager"]
    assert sorted(manager.backends) == ["local", "tiny"]  # "missing" is logged, not fatal
    tiny = manager.backends["tiny"]
    assert isinstance(tiny, TinyBackend) and tiny.name == "tiny"
    code, body = await api("POST", "services", {"name": "t", "command": echo_command(), "backend": "tiny"})
    assert code == 422, body
    assert body["errors"] == [{"field": "command", "message": "tiny refuses, as configured"}]
    code, body = await api("GET", "backends")
    assert {b["name"] for b in body["backends"]} == {"local", "tiny"}
    code, body = await api("POST", "services", {"name": "m", "command": echo_command(), "backend": "missing"})
    assert code == 422 and body["errors"][0]["field"] == "backend", body


async def test_old_server_options_reach_the_local_backend_with_a_warning(api: Any, jp_serverapp: Any,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    local = jp_serverapp.web_app.settings["jupyter_svc_manager"].backends["local"]
    assert local.port_range == (31000, 31010) and local.ports.low == 31000
    assert local.max_log_bytes == 8192  # set on LocalBackend too: that one wins
    code, view = await api("POST", "services", {"name": "e", "command": echo_command()}, wait=30)
    assert code == 201 and 31000 <= int(view["status"]["endpoint"].rsplit(":", 1)[1]) <= 31010, view
    await api("DELETE", "services/e")


def test_deprecated_options_and_missing_backends_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from traitlets.config import Config, LoggingConfigurable

    from jupyter_svc.backends.base import ServerInfo
    from jupyter_svc.server.backend_config import build_backends

    class SvcExtension(LoggingConfigurable):
        pass

    config = Config({"SvcExtension": {"local_host": "127.0.0.2", "refuse_exposed_services": True}})
    app = SvcExtension(config=config, log=logging.getLogger("svc-test"))
    with caplog.at_level(logging.WARNING, "svc-test"):
        made = build_backends(app, ["local", "missing", "local"], ServerInfo(tmp_path, tmp_path))
    assert list(made) == ["local"]
    local = made["local"]
    assert isinstance(local, LocalBackend) and local.host == "127.0.0.2" and local.refuse_exposed_services
    assert "c.SvcExtension.local_host is deprecated; use c.LocalBackend.host" in caplog.text
    assert "no backend named 'missing' is installed" in caplog.text
