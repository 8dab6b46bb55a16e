"""Lifetimes beyond traffic, in a real server with real processes and real kernels: keep-warm
windows, services bound to a kernel, expiry.

Windows open at 9:00 and expiries pass after an hour; the tests move the server's clock through its
one seam (``ServiceManager.clock.offset``) instead of waiting, and the server reacts in real time.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, echo_command, wait_for_state


@pytest.fixture
def svc_config() -> dict[str, Any]:
    return {"idle_check_interval": 0.1, "keep_warm_lead": 2.0}


def _manager(server: Any) -> Any:
    return server.web_app.settings["jupyter_svc_manager"]


def _set_clock(server: Any, at: datetime) -> None:
    """Make the server's lifetime clock read ``at`` now (it keeps running from there)."""
    clock = _manager(server).clock
    clock.offset = at - datetime.now(timezone.utc)


def _today(hh: int, mm: int, ss: int) -> datetime:
    return datetime.now(timezone.utc).replace(hour=hh, minute=mm, second=ss, microsecond=0)


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _wait_view(api: Api, name: str, test: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    view: Any = None
    while asyncio.get_running_loop().time() < deadline:
        code, view = await api("GET", f"services/{name}")
        if code == 200 and test(view):
            return dict(view)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name}: condition never met; last: {view}")


async def _wait_gone(api: Api, name: str, timeout: float = 20.0) -> int:
    """Poll until the service is gone (404); the last status code seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    code = 200
    while asyncio.get_running_loop().time() < deadline:
        code, _ = await api("GET", f"services/{name}")
        if code == 404:
            break
        await asyncio.sleep(0.1)
    return code


WINDOW = {"start": "0 9 * * *", "end": "0 10 * * *", "timezone": "UTC"}


async def test_keep_warm_starts_ahead_of_its_window_and_holds_it_up(api: Api, svc_started: Any) -> None:
    """Outside its window a service idles to zero; 2 s (the lead) before 9:00 the server starts it
    without any request; inside the window its idle window does not apply; after 10:00 it does."""
    _set_clock(svc_started, _today(8, 30, 0))
    spec = {"name": "dash", "command": echo_command(), "scale_to_zero": "1s", "keep_warm": [WINDOW]}
    code, view = await api("POST", "services", spec, wait="20")
    assert code == 201, view
    zero = await wait_for_state(api, "dash", {"scaled_to_zero"}, timeout=20)
    assert zero["status"]["keep_warm"]["warm"] is False
    assert _parse(zero["status"]["keep_warm"]["next_change"]) == _today(8, 59, 58)  # 9:00 less the lead
    cold_starts = zero["status"]["cold_starts"]

    _set_clock(svc_started, _today(8, 59, 56))  # the lead begins 2 s from now
    warm = await wait_for_state(api, "dash", {"ready"}, timeout=20)
    assert warm["status"]["keep_warm"]["warm"] is True
    assert _parse(warm["status"]["keep_warm"]["next_change"]) == _today(10, 0, 0)
    assert warm["status"]["idle_deadline"] is None
    await asyncio.sleep(2.5)  # well past its 1 s idle window, without traffic
    code, view = await api("GET", "services/dash")
    assert view["status"]["state"] == "ready", view["status"]
    assert view["status"]["cold_starts"] >= cold_starts  # started by the schedule, not by a request

    _set_clock(svc_started, _today(10, 0, 1))  # the window has closed: idleness applies again
    closed = await wait_for_state(api, "dash", {"scaled_to_zero"}, timeout=20)
    assert closed["status"]["keep_warm"]["warm"] is False
    assert _parse(closed["status"]["keep_warm"]["next_change"]) == _today(8, 59, 58) + timedelta(days=1)


async def test_a_window_in_a_time_zone_and_a_disabled_service(api: Api, svc_started: Any) -> None:
    """The expressions are read in the window's zone; a disabled service is never started by it."""
    _set_clock(svc_started, _today(6, 0, 0))
    window = {"start": "30 7 * * *", "end": "0 8 * * *", "timezone": "Asia/Kolkata"}  # UTC+5:30
    spec = {"name": "kol", "command": echo_command(), "keep_warm": [window], "desired_state": "disabled"}
    code, view = await api("POST", "services", spec, wait="20")
    assert code == 201, view
    view = await _wait_view(api, "kol", lambda v: v["status"]["keep_warm"] is not None)
    kolkata_0730 = _today(2, 0, 0)  # 07:30 in Kolkata is 02:00 UTC, so the next one is tomorrow's
    assert _parse(view["status"]["keep_warm"]["next_change"]) == kolkata_0730 + timedelta(days=1, seconds=-2)
    _set_clock(svc_started, kolkata_0730 + timedelta(days=1, minutes=1))
    view = await _wait_view(api, "kol", lambda v: v["status"]["keep_warm"]["warm"])
    await asyncio.sleep(0.5)
    code, view = await api("GET", "services/kol")
    assert view["status"]["state"] == "disabled"


@pytest.mark.parametrize(("window", "field"), [
    ({"start": "0 9 * *", "end": "0 10 * * *"}, "keep_warm[0].start"),
    ({"start": "0 9 * * *", "end": "61 10 * * *"}, "keep_warm[0].end"),
    ({"start": "0 9 * * *", "end": "0 10 * * *", "timezone": "Mars/Olympus"}, "keep_warm[0].timezone"),
    ({"start": "0 9 * * *"}, "keep_warm[0].end"),
])
async def test_invalid_windows_are_422_naming_the_field(api: Api, window: dict[str, str], field: str) -> None:
    code, body = await api("POST", "services", {"name": "bad", "command": echo_command(), "keep_warm": [window]})
    assert code == 422, body
    assert field in [e["field"] for e in body["errors"]], body
    code, _ = await api("GET", "services/bad")
    assert code == 404


async def test_expiry_deletes_with_a_reason_and_an_event(api: Api, svc_started: Any) -> None:
    """``expires_after`` counts from the last change: a change renews it; when it passes the service
    is deleted, its status saying why first (the events stream's last word before ``deleted``)."""
    manager = _manager(svc_started)
    code, view = await api("POST", "services", {"name": "tmp", "command": echo_command(), "expires_after": "1h"},
                           wait="20")
    assert code == 201, view
    view = await _wait_view(api, "tmp", lambda v: v["status"]["expires_at"] is not None)
    changed = _parse(view["status"]["changed_at"])
    assert changed is not None
    assert _parse(view["status"]["expires_at"]) == changed + timedelta(hours=1)

    _set_clock(svc_started, datetime.now(timezone.utc) + timedelta(minutes=50))
    code, view = await api("PATCH", "services/tmp", {"description": "renewed"}, wait="10")
    assert code in (200, 202), view
    view = await _wait_view(api, "tmp", lambda v: _parse(v["status"]["expires_at"]) > changed + timedelta(hours=1))
    renewed = _parse(view["status"]["expires_at"])
    assert renewed == _parse(view["status"]["changed_at"]) + timedelta(hours=1)
    assert renewed is not None and renewed > changed + timedelta(minutes=109)

    events: list[Any] = []

    async def listen() -> None:
        async for event in manager.subscribe():
            events.append(event)
            if event.kind == "deleted" and event.name == "tmp":
                return

    listener = asyncio.ensure_future(listen())
    await asyncio.sleep(0.05)
    _set_clock(svc_started, renewed + timedelta(seconds=1))
    await asyncio.wait_for(listener, 20)
    code, _ = await api("GET", "services/tmp")
    assert code == 404
    said = [e.view.status.message for e in events if e.kind == "service" and e.name == "tmp"]
    assert any("expired 1h after its last change" in m for m in said), said


async def test_a_short_expiry_in_real_time(api: Api) -> None:
    code, view = await api("POST", "services", {"name": "brief", "command": echo_command(), "expires_after": "2s"})
    assert code == 201, view
    assert await _wait_gone(api, "brief") == 404


# ------------------------------------------------------------------------------------- kernels

async def _start_kernel(jp_fetch: Any) -> str:
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    return str(json.loads(response.body)["id"])


async def test_a_service_bound_to_a_kernel_goes_with_it(api: Api, jp_fetch: Any, svc_started: Any) -> None:
    """Kernels started and shut down through the server's kernels API: a bound service is deleted
    when its kernel shuts down, or scaled to zero (and kept) when the binding says so and the kernel
    restarts; a kernel the server does not run is a 422 on ``kernel.id``."""
    code, body = await api("POST", "services", {"name": "orphan", "command": echo_command(),
                                                "kernel": {"id": "0f0f0f0f-0000-4000-8000-000000000000"}})
    assert code == 422 and [e["field"] for e in body["errors"]] == ["kernel.id"], body

    kernel = await _start_kernel(jp_fetch)
    try:
        for name, on_end in (("mine", "delete"), ("kept", "scale_to_zero")):
            spec = {"name": name, "command": echo_command(),
                    "kernel": {"id": kernel, "path": "work/analysis.ipynb", "on_end": on_end}}
            code, view = await api("POST", "services", spec, wait="20")
            assert code == 201 and view["status"]["state"] == "ready", view
            assert view["spec"]["kernel"]["path"] == "work/analysis.ipynb"

        await jp_fetch("api", "kernels", kernel, "restart", method="POST", body="{}")
        await wait_for_state(api, "kept", {"scaled_to_zero"}, timeout=30)
        assert await _wait_gone(api, "mine") == 404, "a kernel restart deletes a service bound with on_end: delete"
        code, view = await api("GET", "services/kept")
        assert "restarted" in view["status"]["message"], view["status"]

        spec = {"name": "again", "command": echo_command(), "kernel": {"id": kernel}}
        code, view = await api("POST", "services", spec, wait="20")
        assert code == 201, view
    finally:
        await jp_fetch("api", "kernels", kernel, method="DELETE")
    assert await _wait_gone(api, "again") == 404, "shutting its kernel down deletes it"


@pytest.fixture
def stale_binding(svc_state_dir: Path) -> str:
    """The state a previous server left: a service bound to a kernel that died with that server."""
    services = svc_state_dir / "services"
    services.mkdir(parents=True)
    spec = {"name": "left", "command": echo_command(), "kernel": {"id": "dead-kernel-1", "path": "old.ipynb"}}
    status = {"state": "ready", "generation": 1}
    (services / "left.json").write_text(json.dumps({"spec": spec, "status": status}))
    return "left"


async def test_after_a_restart_a_service_whose_kernel_is_gone_is_cleaned_up(stale_binding: str, api: Api,
                                                                            svc_state_dir: Path) -> None:
    """Restored (its file was valid), then deleted because its kernel no longer runs."""
    assert await _wait_gone(api, stale_binding) == 404
    await asyncio.sleep(1)
    assert sorted(p.name for p in (svc_state_dir / "services").iterdir()) == []  # deleted, not set aside
