"""Shared fixtures: a real Jupyter server with jupyter-svc enabled, on a temporary state dir."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

APPS = Path(__file__).parent / "apps"
ECHO_APP = str(APPS / "echo_app.py")
WEB_APP = str(APPS / "web_app.py")


def echo_command(*extra: str) -> list[str]:
    """argv of the test HTTP app on the port jupyter-svc picks."""
    return [sys.executable, ECHO_APP, "{port}", *extra]


def web_command(*extra: str) -> list[str]:
    """argv of the aiohttp test app (WebSockets, streams, SSE) on the port jupyter-svc picks."""
    return [sys.executable, WEB_APP, "{port}", *extra]


@pytest.fixture
def svc_state_dir(tmp_path: Path) -> Path:
    return tmp_path / "svc-state"


@pytest.fixture
def svc_config() -> dict[str, Any]:
    """Overrides of SvcExtension options for one test (short timeouts keep the suite fast)."""
    return {}


@pytest.fixture
def jp_server_config(svc_state_dir: Path, svc_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_svc": True}},
        "SvcExtension": {
            "state_dir": str(svc_state_dir),
            "readiness_timeout": 20.0,
            "stop_grace": 3.0,
            "restart_backoff_initial": 0.1,
            "restart_backoff_max": 0.5,
            **svc_config,
        },
    }


Api = Callable[..., Awaitable[Any]]


@pytest.fixture
def svc_started(jp_serverapp: Any, jp_asyncio_loop: Any) -> Any:
    """Run the extensions' start hooks, as `jupyter server` does once its loop runs
    (pytest-jupyter's server skips them): restore, idle loop, server URL."""
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())
    return jp_serverapp


@pytest.fixture
def api(jp_fetch: Any, svc_started: Any) -> Api:
    """Call the REST API; returns (status, parsed JSON or text) and never raises on 4xx."""
    from tornado.httpclient import HTTPClientError

    async def call(method: str, path: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "params": params or None, "raise_error": False}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = "{}"
        try:
            response = await jp_fetch("svc", "api", *path.strip("/").split("/"), **kwargs)
        except HTTPClientError as exc:  # pragma: no cover - raise_error=False makes this rare
            response = exc.response
        text = response.body.decode() if response.body else ""
        try:
            return response.code, json.loads(text) if text else None
        except ValueError:
            return response.code, text

    return call


async def wait_for_state(api: Api, name: str, states: set[str], timeout: float = 30.0) -> dict[str, Any]:
    """Poll until the service reaches one of ``states``; fail with its last status otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    view: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        code, view = await api("GET", f"services/{name}")
        if code == 200 and view["status"]["state"] in states:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never reached {states}; last: {view}")


#: The one variable that names the cluster the Kubernetes tests use (.ci/run starts one with
#: ../shared/k8s/up.sh and exports its admin kubeconfig here).
KUBECONFIG_VAR = "JUPYTER_SVC_TEST_KUBECONFIG"


@pytest.fixture(scope="session")
def kube_client() -> Any:
    """A `kubernetes` ApiClient for the cluster ``$JUPYTER_SVC_TEST_KUBECONFIG`` names; the test skips,
    saying why, when it is unset. The apiserver must be on loopback (a local control plane, kind):
    tests talk to 127.0.0.1 / ::1 only, so a kubeconfig that points elsewhere fails loudly."""
    path = os.environ.get(KUBECONFIG_VAR)
    if not path:
        pytest.skip(f"{KUBECONFIG_VAR} is unset: no Kubernetes cluster to test against "
                    "(.ci/run starts one with ../shared/k8s/up.sh)")
    from kubernetes import config

    api = config.new_client_from_config(config_file=path, persist_config=False)
    host = urlsplit(api.configuration.host).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        api.close()
        pytest.fail(f"{KUBECONFIG_VAR} names the apiserver {api.configuration.host}: tests connect to loopback only")
    yield api
    api.close()
