"""What the proxy remembers of Jupyter's access checks (jupyter_svc/access.py), against a real
server: remembered users expire, other credentials are never let through, a refused Host stays
refused, and Jupyter's access log and request histogram still see proxied requests."""

from __future__ import annotations

import asyncio
import logging

import pytest
from conftest import echo_command
from jupyter_server.prometheus.metrics import HTTP_REQUEST_DURATION_SECONDS
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from jupyter_svc.proxy.access import AccessMemo, credentials_key, emits_debug, jupyter_log_metrics


@pytest.fixture
def get(jp_http_port, jp_base_url):
    async def call(path: str, headers: dict[str, str]) -> int:
        request = HTTPRequest(f"http://127.0.0.1:{jp_http_port}{jp_base_url}{path}", headers=headers,
                              follow_redirects=False, request_timeout=30)
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        return response.code

    return call


async def _echo(api) -> None:
    code, view = await api("POST", "services", {"name": "echo", "command": echo_command()}, wait=20)
    assert code == 201, view


REFUSED = 302  # a GET without a user is sent to Jupyter's login page


@pytest.mark.parametrize("svc_config", [{"auth_cache_seconds": 0.6}, {"auth_cache_seconds": 0}])
async def test_remembered_user_expires_and_other_credentials_never_pass(api, get, jp_serverapp, svc_config):
    await _echo(api)
    old = jp_serverapp.identity_provider.token
    assert await get("svc/echo/", {"Authorization": f"token {old}"}) == 200
    jp_serverapp.identity_provider.token = "a-new-token"  # what the IdentityProvider accepts changes
    try:
        remembered = svc_config["auth_cache_seconds"] > 0
        assert await get("svc/echo/", {"Authorization": f"token {old}"}) == (200 if remembered else REFUSED)
        assert await get("svc/echo/", {"Authorization": "token guessed"}) == REFUSED
        assert await get("svc/echo/", {"Authorization": "token a-new-token"}) == 200
        await asyncio.sleep(0.8)
        assert await get("svc/echo/", {"Authorization": f"token {old}"}) == REFUSED  # asked again
    finally:
        jp_serverapp.identity_provider.token = old


async def test_refusal_is_not_remembered_and_host_check_still_applies(api, get, jp_serverapp):
    await _echo(api)
    token = jp_serverapp.identity_provider.token
    assert await get("svc/echo/", {"Authorization": "token wrong"}) == REFUSED
    assert await get("svc/echo/", {"Authorization": f"token {token}"}) == 200
    assert await get("svc/echo/", {"Authorization": "token wrong"}) == REFUSED
    # Jupyter refuses a non-local Host (DNS rebinding) before any credentials count
    evil = {"Authorization": f"token {token}", "Host": "evil.example.com"}
    assert await get("svc/echo/", evil) == 403
    assert await get("svc/echo/", {"Authorization": f"token {token}", "Host": "localhost"}) == 200
    assert await get("svc/echo/", evil) == 403


class Records(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_access_log_and_jupyter_request_histogram_still_see_proxied_requests(api, get, jp_serverapp):
    await _echo(api)
    auth = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
    handler_label = "jupyter_svc.proxy.handler.ProxyHandler"

    def histogram_count() -> float:
        for metric in HTTP_REQUEST_DURATION_SECONDS.collect():
            for sample in metric.samples:
                if sample.name.endswith("_count") and sample.labels.get("handler") == handler_label \
                        and sample.labels.get("status_code") == "200":
                    return sample.value
        return 0.0

    records = Records(logging.INFO)
    jp_serverapp.log.addHandler(records)
    try:
        before = histogram_count()
        assert await get("svc/echo/ok", auth) == 200
        assert await get("svc/nothere/x", auth) == 404
        assert histogram_count() == before + 1
        assert not any("/svc/echo/ok" in line for line in records.lines)  # debug level: nobody shows it
        assert any("404 GET" in line and "/svc/nothere/x" in line for line in records.lines)
        records.setLevel(logging.DEBUG)  # someone shows debug output now: successes are logged again
        assert await get("svc/echo/ok", auth) == 200
        assert any("200 GET" in line and "/svc/echo/ok" in line for line in records.lines)
    finally:
        jp_serverapp.log.removeHandler(records)


def test_memo_rules() -> None:
    memo = AccessMemo(ttl=60)
    key = credentials_key({"Authorization": "token t"}, "localhost:8888", query_token=False)
    assert key is not None and memo.user(key) is None
    memo.remember_user(key, None, False)  # a refusal (no user) is never remembered
    assert memo.user(key) is None
    memo.remember_user(key, "alice", True)
    assert memo.user(key) == ("alice", True)
    assert memo.user(("localhost:8888", "token other", "")) is None
    # ?token= logins must reach Jupyter (it sets its cookie); no credentials: nothing to remember
    assert credentials_key({"Authorization": "token t"}, "h", query_token=True) is None
    assert credentials_key({}, "h", query_token=False) is None
    assert AccessMemo(ttl=0).user(key) is None
    for i in range(300):
        memo.remember_user(("h", f"token {i}", ""), "bob", True)
    assert memo.user(key) is None and memo.user(("h", "token 299", "")) == ("bob", True)  # bounded

    quiet = logging.getLogger("jupyter_svc.test.quiet")
    quiet.propagate, quiet.level = False, logging.DEBUG
    quiet.addHandler(logging.NullHandler(logging.INFO))
    assert not emits_debug(quiet)
    quiet.addHandler(logging.NullHandler(logging.DEBUG))
    assert emits_debug(quiet)
    assert jupyter_log_metrics(print) is None


async def test_proxy_routes_come_first_and_every_other_route_still_answers(api, get, jp_serverapp):
    """route_first() puts this extension's rules before those of the extensions loaded earlier."""
    from jupyter_svc.proxy.handler import ProxyHandler

    first = jp_serverapp.web_app.default_router.rules[0].target
    assert any(getattr(rule, "target", None) is ProxyHandler for rule in first.rules)
    await _echo(api)
    auth = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
    assert await get("api/status", auth) == 200  # jupyter_server's own
    assert await get("api/terminals", auth) == 200  # an extension loaded before this one
    assert await get("svc/api/services", auth) == 200
    assert await get("svc/echo/", auth) == 200
