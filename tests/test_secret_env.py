"""secret_env: stored and given to the process, never returned (GET, list, events) nor logged; a
spec sent back as read, or a PATCH that does not mention them, keeps them. Real server, real app."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from conftest import wait_for_state
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

SECRET_MASK = "**********"  # jupyter_svc.model.secret_env.SECRET_MASK, as clients see it

ENV_APP = """
import http.server, json, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({k: os.environ.get(k) for k in ("API_KEY", "OTHER", "PLAIN")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""
SECRET = "s3cret-value-42"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(record.getMessage() + (str(record.exc_info) if record.exc_info else ""))


async def test_secret_env_is_given_to_the_process_but_never_returned_or_logged(
        api, jp_fetch, jp_serverapp, jp_http_port, jp_base_url, jp_auth_header, svc_state_dir):
    records = Records()
    loggers = [logging.getLogger(), jp_serverapp.log, logging.getLogger("tornado.access")]
    for logger in loggers:
        logger.addHandler(records)
    try:
        spec = {"name": "keyed", "command": [sys.executable, "-c", ENV_APP, "{port}"],
                "env": {"PLAIN": "shown"}, "secret_env": {"API_KEY": SECRET, "OTHER": "second-{name}"}}
        code, view = await api("POST", "services", spec, wait=20)
        assert code == 201 and view["status"]["state"] == "ready", view

        async def app_env() -> dict[str, str]:
            request = HTTPRequest(f"http://127.0.0.1:{jp_http_port}{jp_base_url}svc/keyed/", headers=jp_auth_header)
            return json.loads((await AsyncHTTPClient().fetch(request)).body)

        assert await app_env() == {"API_KEY": SECRET, "OTHER": "second-keyed", "PLAIN": "shown"}
        masked = {"API_KEY": SECRET_MASK, "OTHER": SECRET_MASK}
        assert view["spec"]["secret_env"] == masked and view["spec"]["env"] == {"PLAIN": "shown"}
        code, one = await api("GET", "services/keyed")
        code, listed = await api("GET", "services")
        assert one["spec"]["secret_env"] == masked and listed["services"][0]["spec"]["secret_env"] == masked
        events = bytearray()
        stream = asyncio.ensure_future(jp_fetch("svc", "api", "events", streaming_callback=events.extend,
                                                request_timeout=60))
        stored = (svc_state_dir / "services" / "keyed.json").read_text()
        assert SECRET in stored  # the store keeps them (its files are private to the user)
        assert (svc_state_dir / "services" / "keyed.json").stat().st_mode & 0o077 == 0

        # a PATCH that does not mention them keeps them; one that does changes that one only
        code, patched = await api("PATCH", "services/keyed", {"description": "now described"}, wait=20)
        assert code == 200 and patched["spec"]["secret_env"] == masked
        code, patched = await api("PATCH", "services/keyed", {"secret_env": {"OTHER": "rotated-7"}}, wait=20)
        assert code == 200, patched
        stream.cancel()
        assert b"now described" in events and b'"OTHER":"**********"' in events, events
        assert SECRET.encode() not in events and b"second-" not in events and b"rotated-7" not in events
        await wait_for_state(api, "keyed", {"ready"})
        assert await app_env() == {"API_KEY": SECRET, "OTHER": "rotated-7", "PLAIN": "shown"}
        # the spec as read, sent back whole (what the panel's form does), keeps every secret
        code, put = await api("PUT", "services/keyed", {**one["spec"], "description": "put back"}, wait=20)
        assert code == 200, put
        assert await app_env() == {"API_KEY": SECRET, "OTHER": "rotated-7", "PLAIN": "shown"}
        assert SECRET in (svc_state_dir / "services" / "keyed.json").read_text()
        # a mask with nothing stored under its name is refused, naming the field
        code, body = await api("PATCH", "services/keyed", {"secret_env": {"NEW": SECRET_MASK}})
        assert code == 422 and body["errors"][0]["field"] == "secret_env.NEW", body
        code, body = await api("POST", "services", {**spec, "name": "copy", "secret_env": masked})
        assert code == 422 and body["errors"][0]["field"].startswith("secret_env."), body
        code, body = await api("POST", "apply", {"manifest": [{**spec, "name": "copy2", "secret_env": masked}]})
        assert code == 422 and body["errors"][0]["field"].startswith("manifest.services[0].secret_env."), body
        code, body = await api("POST", "apply", {"manifest": [{**one["spec"], "description": "applied"}]}, wait=20)
        assert code == 200 and body["ok"], body
        assert await app_env() == {"API_KEY": SECRET, "OTHER": "rotated-7", "PLAIN": "shown"}
        code, logs = await api("GET", "services/keyed/logs")
        assert SECRET not in logs
    finally:
        for logger in loggers:
            logger.removeHandler(records)
    assert records.text and not [line for line in records.text if SECRET in line or "second-keyed" in line]
