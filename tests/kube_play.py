"""The kubelet, played by the tests on a control plane that has none (../shared/k8s/README.md).

For each pod of a namespace it does what a kubelet (and the scheduler) would, as a test asks per
service: bind it and report it Running and Ready, with a fake pod IP in its status (nothing listens
there: nothing may connect to it) and, behind it, a small HTTP app on loopback; or report the
failure a real kubelet would (ImagePullBackOff, CrashLoopBackOff, OOMKilled) or the scheduler's
Unschedulable. It finishes pods that are being deleted, and serves the pods' logs to the real
apiserver over HTTPS on loopback (the Node's address is 127.0.0.1), so ``pods/log`` works.

``resolver`` is the backend's endpoint seam for these tests: it maps a ready endpoint's pod to its
loopback app and raises on anything else; the backend also runs with ``loopback_only``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import json
import os
import signal
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from kubernetes_asyncio import client as k8s

from jupyter_svc.backends.kubernetes.reflector import PODS, Reflector
from jupyter_svc.backends.kubernetes.resolver import EndpointQuery

SERVICE_LABEL = "jupyter-svc/service"
_ips = itertools.count(10)
#: The kubelets playing now, by namespace: what :func:`resolve` asks in this process.
PLAYING: dict[str, PlayedKubelet] = {}
#: Another process (a second Jupyter server) reads the endpoints from the file this names.
ENDPOINTS_FILE_VAR = "KUBE_PLAY_ENDPOINTS"  # not JUPYTER_SVC_*: test servers drop those


def resolve(query: EndpointQuery) -> tuple[str, int]:
    """The endpoint resolver the tests configure (``c.KubernetesBackend.endpoint_resolver =
    "kube_play:resolve"``): the played kubelet's loopback app for the pod, whichever process asks."""
    kubelet = PLAYING.get(query.namespace)
    if kubelet is not None:
        return kubelet.resolver(query)
    path = os.environ.get(ENDPOINTS_FILE_VAR)
    if not path:
        raise LookupError(f"no kubelet plays namespace {query.namespace} here and ${ENDPOINTS_FILE_VAR} is unset")
    pod, port = json.loads(Path(path).read_text()).get(query.address, [None, 0])
    if pod != query.pod:
        raise LookupError(f"no played pod at {query.address} ({query.pod})")
    return "127.0.0.1", port


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_status(name: str, image: str, **state: Any) -> dict[str, Any]:
    """A kubelet's containerStatuses entry (running and ready unless ``state`` says otherwise)."""
    status = {"name": name, "image": image, "imageID": "", "ready": True, "restartCount": 0, "started": True,
              "state": {"running": {"startedAt": _now()}}}
    status.update(state)
    return status


def failing_status(kind: str, pod: dict[str, Any]) -> dict[str, Any]:
    """The status a kubelet writes for ``kind``: what tests/data/kubernetes records, for any pod."""
    image = pod["spec"]["containers"][0]["image"]
    name = pod["metadata"]["name"]
    waiting: dict[str, Any]
    if kind == "ImagePullBackOff":
        waiting = {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}
        extra: dict[str, Any] = {}
    elif kind == "CrashLoopBackOff":
        waiting = {"reason": "CrashLoopBackOff",
                   "message": f"back-off 20s restarting failed container=app pod={name}"}
        extra = {"restartCount": 3, "lastState": {"terminated": {
            "reason": "Error", "exitCode": 3, "startedAt": _now(), "finishedAt": _now()}}}
    elif kind == "OOMKilled":
        waiting = {"reason": "CrashLoopBackOff",
                   "message": f"back-off 10s restarting failed container=app pod={name}"}
        extra = {"restartCount": 1, "lastState": {"terminated": {
            "reason": "OOMKilled", "exitCode": 137, "startedAt": _now(), "finishedAt": _now()}}}
    else:
        raise ValueError(kind)
    app = container_status("app", image, ready=False, started=False, state={"waiting": waiting}, **extra)
    return {"phase": "Pending" if kind == "ImagePullBackOff" else "Running", "podIP": _ip(), "conditions": [
        {"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"},
        {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"},
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [app]}


def unschedulable_status() -> dict[str, Any]:
    return {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": _now(),
        "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are "
                   "available: 1 No preemption victims found for incoming pod."}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ip() -> str:
    n = next(_ips)
    return f"10.244.{n // 250}.{n % 250 + 2}"


@dataclass
class App:
    """The loopback HTTP app behind one pod: served here (``runner``), or the container's own command
    run as a local process (``process``: the "process" runtime)."""

    pod: str
    ip: str
    version: str
    runner: web.AppRunner | None
    port: int = 0
    requests: int = 0
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    task: asyncio.Task[None] | None = None

    async def finish(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


class PlayedKubelet:
    """Kubelet and scheduler for one namespace. ``behaviour[service]``: "ready" (default), "hold"
    (Running, not ready until :meth:`release`), "ImagePullBackOff", "CrashLoopBackOff",
    "OOMKilled", "Unschedulable".

    ``runtime``: "inline" serves each ready pod from a small app in this process (fast); "process"
    runs the pod's app container's command as a local process, on a free loopback port in place of
    its container port (loopback is shared here, a pod's network is not), marks it ready once its
    readiness probe's path answers, and when it exits reports CrashLoopBackOff with its exit code,
    then restarts it after a back-off, as a kubelet does."""

    def __init__(self, api: k8s.ApiClient, namespace: str, tmp: Path, runtime: str = "inline",
                 crash_backoff: float = 2.0) -> None:
        self.api, self.namespace, self.tmp = api, namespace, tmp
        self.runtime, self.crash_backoff = runtime, crash_backoff
        self.core = k8s.CoreV1Api(api)
        self.node = f"node-{namespace}"
        self.behaviour: dict[str, str] = {}
        self.apps: dict[str, App] = {}  # pod name -> its app
        self.by_ip: dict[str, App] = {}
        self.started: dict[str, int] = {}  # service -> pods brought up
        self.resolved: list[EndpointQuery] = []
        self.logs: dict[str, list[str]] = {}  # pod name -> what its containers printed
        self._held: dict[str, list[str]] = {}
        self._done: set[str] = set()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pods = Reflector(api, PODS, namespace, watch_timeout=30)
        self._pods.on_change(lambda kind, pod: self._queue.put_nowait(pod) if kind != "DELETED" else None)
        self._task: asyncio.Task[None] | None = None
        self._kubelet: web.AppRunner | None = None

    # ------------------------------------------------------------------------- life
    async def start(self) -> None:
        port = await self._serve_logs()
        await self.core.create_node({"metadata": {"name": self.node}})
        await self.core.patch_node_status(self.node, {"status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}})
        self._pods.start()
        await asyncio.wait_for(self._pods.first_load, 20)
        self._task = asyncio.create_task(self._work())
        PLAYING[self.namespace] = self

    async def stop(self) -> None:
        """Stop playing; finish every pod (bound pods stay otherwise) and remove the Node."""
        PLAYING.pop(self.namespace, None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._pods.stop()
        with contextlib.suppress(k8s.ApiException, aiohttp.ClientError, OSError):
            for pod in (await self.core.list_namespaced_pod(self.namespace)).items:
                with contextlib.suppress(k8s.ApiException):
                    await self.core.delete_namespaced_pod(pod.metadata.name, self.namespace, grace_period_seconds=0)
            await self.core.delete_node(self.node)
        for app in list(self.apps.values()):
            await app.finish()
        if self._kubelet is not None:
            await self._kubelet.cleanup()

    async def release(self, service: str) -> None:
        """Mark the held pods of ``service`` ready (their apps already listen)."""
        self.behaviour[service] = "ready"
        for name in self._held.pop(service, []):
            app = self.apps[name]
            await self._report_ready(name, app)

    async def crash(self, pod: str) -> None:
        """The running pod's app crashes and the kubelet backs off restarting it (CrashLoopBackOff)."""
        self.logs[pod] += ["Traceback (most recent call last):", "RuntimeError: boom"]
        await self.core.patch_namespaced_pod_status(pod, self.namespace, {
            "status": failing_status("CrashLoopBackOff", self._pods.cache[pod])})

    # ------------------------------------------------------------------------- the seam
    def resolver(self, query: EndpointQuery) -> tuple[str, int]:
        """A ready endpoint -> the loopback app of its pod; anything else is an error."""
        self.resolved.append(query)
        ipaddress.ip_address(query.address)  # an address, not a name
        app = self.by_ip.get(query.address)
        if app is None or app.pod != query.pod:
            raise LookupError(f"no played pod at {query.address} ({query.pod})")
        return "127.0.0.1", app.port

    # ------------------------------------------------------------------------- work
    async def _work(self) -> None:
        while True:
            pod = await self._queue.get()
            try:
                await self._handle(pod)
            except k8s.ApiException as exc:
                if exc.status not in (404, 409):
                    raise
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError):  # the apiserver is away: try again
                self._done.discard(pod["metadata"]["name"])
                await asyncio.sleep(0.5)
                self._queue.put_nowait(pod)

    async def _handle(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        name, service = meta["name"], (meta.get("labels") or {}).get(SERVICE_LABEL, "")
        if meta.get("deletionTimestamp"):
            if pod["spec"].get("nodeName"):  # only a kubelet finishes a bound pod
                await self.core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=0)
            app = self.apps.pop(name, None)
            if app is not None:
                self.by_ip.pop(app.ip, None)
                self._write_endpoints()
                await app.finish()
            return
        if name in self._done:
            return
        self._done.add(name)
        behaviour = self.behaviour.get(service, "ready")
        if behaviour == "Unschedulable":
            await self.core.patch_namespaced_pod_status(name, self.namespace, {"status": unschedulable_status()})
            return
        await self.core.create_namespaced_pod_binding(name, self.namespace, {
            "metadata": {"name": name}, "target": {"kind": "Node", "name": self.node}}, _preload_content=False)
        if behaviour in ("CrashLoopBackOff", "OOMKilled"):
            self.logs[name] = [f"{name} starting", "Traceback (most recent call last):",
                               "MemoryError" if behaviour == "OOMKilled" else "RuntimeError: boom"]
        if behaviour in ("ImagePullBackOff", "CrashLoopBackOff", "OOMKilled"):
            await self.core.patch_namespaced_pod_status(name, self.namespace,
                                                        {"status": failing_status(behaviour, pod)})
            return
        if self.runtime == "process":
            self.started[service] = self.started.get(service, 0) + 1
            await self._start_process(pod)
            return
        app = await self._start_app(pod)
        self.started[service] = self.started.get(service, 0) + 1
        if behaviour == "hold":
            self._held.setdefault(service, []).append(name)
            await self.core.patch_namespaced_pod_status(name, self.namespace, {"status": {
                "phase": "Running", "podIP": app.ip, "podIPs": [{"ip": app.ip}],
                "containerStatuses": [container_status("app", pod["spec"]["containers"][0]["image"],
                                                       ready=False)]}})
            return
        await self._report_ready(name, app)

    async def _report_ready(self, name: str, app: App) -> None:
        pod = self._pods.cache[name]
        statuses = [container_status(c["name"], c["image"], restartCount=app.restarts)
                    for c in pod["spec"]["containers"]]
        await self.core.patch_namespaced_pod_status(name, self.namespace, {"status": {
            "phase": "Running", "podIP": app.ip, "podIPs": [{"ip": app.ip}], "startTime": _now(),
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": _now()}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": statuses}})

    async def _start_app(self, pod: dict[str, Any]) -> App:
        """The pod's app: answers every path with its pod, version (env VERSION) and the path."""
        main = pod["spec"]["containers"][0]
        env = {e["name"]: e.get("value", "") for e in main.get("env") or ()}
        name = pod["metadata"]["name"]

        async def answer(request: web.Request) -> web.Response:
            app.requests += 1
            return web.json_response({"pod": name, "version": env.get("VERSION", ""), "path": request.path,
                                      "base_url": env.get("JUPYTER_SVC_BASE_URL", "")})

        web_app = web.Application()
        web_app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        app = App(name, _ip(), env.get("VERSION", ""), runner)
        self.logs[name] = [f"{name} listening on :{env.get('JUPYTER_SVC_PORT')}", f"version {env.get('VERSION', '')}"]
        app.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.apps[name], self.by_ip[app.ip] = app, app
        self._write_endpoints()
        return app

    def _write_endpoints(self) -> None:
        """pod IP -> (pod, loopback port), for :func:`resolve` in another process."""
        table = {ip: [app.pod, app.port] for ip, app in self.by_ip.items()}
        partial = self.tmp / "endpoints.json.partial"
        partial.write_text(json.dumps(table))
        partial.replace(self.tmp / "endpoints.json")  # readers never see half a file

    @property
    def endpoints_file(self) -> Path:
        return self.tmp / "endpoints.json"

    # ------------------------------------------------------------------------- the "process" runtime
    async def _start_process(self, pod: dict[str, Any]) -> None:
        name, main = pod["metadata"]["name"], pod["spec"]["containers"][0]
        app = App(name, _ip(), "", None, port=_free_port())
        self.apps[name], self.by_ip[app.ip] = app, app
        self.logs[name] = []
        app.task = asyncio.create_task(self._supervise(pod, main, app))

    async def _supervise(self, pod: dict[str, Any], main: dict[str, Any], app: App) -> None:
        """Run, probe, report; on exit report the crash and restart after the back-off."""
        declared = str(next(p["containerPort"] for p in main.get("ports") or () if p.get("name") == "http"))
        mapped = str(app.port)
        argv = [mapped if arg == declared else arg for arg in [*main.get("command", []), *main.get("args", [])]]
        env = {**os.environ, **{e["name"]: mapped if e.get("value") == declared else e.get("value", "")
                                for e in main.get("env") or ()}}
        probe = (main.get("readinessProbe") or {}).get("httpGet") or {"path": "/"}
        while True:
            app.process = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=self.tmp, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True)
            reader = asyncio.create_task(self._read_output(app))
            ready = asyncio.create_task(self._ready_when_answering(pod, app, probe["path"]))
            code = await app.process.wait()
            ready.cancel()
            await reader
            self._write_endpoints()
            app.restarts += 1
            exit_code = 128 - code if code < 0 else code  # killed by a signal: 128 + its number
            status = failing_status("CrashLoopBackOff", pod)
            status["podIP"], status["podIPs"] = app.ip, [{"ip": app.ip}]
            last = status["containerStatuses"][0]
            last["restartCount"] = app.restarts
            last["lastState"]["terminated"].update({"exitCode": exit_code, "reason": "Error"})
            await self.core.patch_namespaced_pod_status(app.pod, self.namespace, {"status": status})
            await asyncio.sleep(self.crash_backoff)

    async def _read_output(self, app: App) -> None:
        assert app.process is not None and app.process.stdout is not None
        async for line in app.process.stdout:
            self.logs[app.pod].append(line.decode(errors="replace").rstrip("\n"))

    async def _ready_when_answering(self, pod: dict[str, Any], app: App, path: str) -> None:
        """The readiness probe, as a kubelet runs it (on the process's loopback port)."""
        async with aiohttp.ClientSession() as session:
            while True:
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(f"http://127.0.0.1:{app.port}{path}",
                                           timeout=aiohttp.ClientTimeout(total=2)) as response:
                        if 200 <= response.status < 400:
                            break
                await asyncio.sleep(0.05)
        self._write_endpoints()
        await self._report_ready(app.pod, app)

    # ------------------------------------------------------------------------- pods/log
    async def _serve_logs(self) -> int:
        """HTTPS on loopback where the apiserver asks the node for a container's log (it does not
        verify a kubelet's certificate unless configured to)."""
        cert, key = self.tmp / "kubelet.crt", self.tmp / "kubelet.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)

        async def logs(request: web.Request) -> web.StreamResponse:
            pod, container = request.match_info["pod"], request.match_info["container"]
            lines = [f"[{container}] {line}" for line in self.logs.get(pod, ())]
            tail = request.query.get("tailLines")
            if tail is not None:
                lines = lines[-int(tail):] if int(tail) else []
            text = "".join(f"{line}\n" for line in lines)
            if request.query.get("follow") != "true":
                return web.Response(text=text)
            response = web.StreamResponse()
            await response.prepare(request)
            await response.write(text.encode())
            for i in range(3):
                await asyncio.sleep(0.05)
                await response.write(f"[{container}] followed {i}\n".encode())
            return response

        web_app = web.Application()
        web_app.router.add_get("/containerLogs/{ns}/{pod}/{container}", logs)
        self._kubelet = web.AppRunner(web_app, access_log=None)
        await self._kubelet.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        site = web.TCPSite(self._kubelet, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port: int = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return port
