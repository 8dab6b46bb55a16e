"""The server's marker lines in a service's log (a real server, real processes): when each process
started and how it ended, with UTC times, and a follow that ends, saying so, when the service is
deleted. The lab panel's log viewer reads these lines."""

from __future__ import annotations

import asyncio
import re
import sys

from conftest import echo_command, wait_for_state

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
# listens, answers one readiness probe, says why it stops, exits with the code in argv[2]
ONE_SHOT = (
    "import socket,sys,time\n"
    "s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "c,_=s.accept(); c.recv(100); c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n'); c.close()\n"
    "print('last words', flush=True); time.sleep(0.2); sys.exit(int(sys.argv[2]))\n"
)


async def test_log_has_a_timed_start_line_and_an_exit_line_with_the_code(api):
    spec = {"name": "quitter", "restart_policy": "never",
            "command": [sys.executable, "-c", ONE_SHOT, "{port}", "3"]}
    code, view = await api("POST", "services", spec)
    assert code in (201, 202), view
    await wait_for_state(api, "quitter", {"failed", "scaled_to_zero"}, timeout=30)
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # the exit line follows the last output (the pipe's end), a moment after the exit
        code, text = await api("GET", "services/quitter/logs", tail=50)
        assert code == 200
        if "exited with code" in text or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    lines = text.splitlines()
    started = [i for i, line in enumerate(lines) if re.fullmatch(
        rf"\[jupyter-svc\] started pid (\d+) on port \d+ at {TIME}: .*", line)]
    exited = [i for i, line in enumerate(lines) if re.fullmatch(
        rf"\[jupyter-svc\] pid \d+ exited with code 3 at {TIME}", line)]
    assert len(started) == 1 and len(exited) == 1, text
    pid = re.search(r"started pid (\d+)", lines[started[0]])[1]  # type: ignore[index]
    assert f"pid {pid} exited" in lines[exited[0]]
    assert started[0] < lines.index("last words") < exited[0], text


async def test_a_stopped_process_is_logged_with_its_signal(api):
    code, view = await api("POST", "services", {"name": "sleeper", "command": echo_command()}, wait=20)
    assert view["status"]["state"] == "ready", view
    code, view = await api("POST", "services/sleeper/scale", {"replicas": 0}, wait=20)
    assert view["status"]["state"] == "scaled_to_zero", view
    code, text = await api("GET", "services/sleeper/logs", tail=50)
    assert re.search(rf"^\[jupyter-svc\] pid \d+ (killed by SIGTERM|exited with code 0) at {TIME}$",
                     text, re.MULTILINE), text


async def test_follow_ends_with_a_line_when_the_service_is_deleted(api, jp_fetch):
    code, view = await api("POST", "services", {"name": "doomed", "command": echo_command()}, wait=20)
    assert view["status"]["state"] == "ready", view
    chunks: list[bytes] = []
    following = asyncio.Event()

    def on_chunk(chunk: bytes) -> None:
        chunks.append(chunk)
        following.set()

    fetch = asyncio.ensure_future(jp_fetch("svc", "api", "services", "doomed", "logs",
                                           params={"follow": "1", "tail": "5"},
                                           streaming_callback=on_chunk, request_timeout=60))
    await asyncio.wait_for(following.wait(), 20)
    code, _ = await api("DELETE", "services/doomed")
    assert code == 204
    # the stream ends (the request completes), its last line saying why
    response = await asyncio.wait_for(fetch, 20)
    assert response.code == 200
    text = b"".join(chunks).decode()
    last = text.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(rf"\[jupyter-svc\] service deleted at {TIME}: the log ends here", last), text
