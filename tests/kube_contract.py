"""The Kubernetes backend's case of the backend contract (tests/test_backend_contract.py).

A namespace of its own on the cluster ``$JUPYTER_SVC_TEST_KUBECONFIG`` names, and the played
kubelet with its "process" runtime (kube_play.py): each pod's app container runs the spec's own
command (the contract's echo app) as a local process, so the contract's checks on processes (gone
when scaled to zero, a SIGKILL seen as a crash) hold as they do for the local backend. The kubelet
runs on an event loop of its own in a thread, because the contract's tests are synchronous and the
Jupyter server under test is another process; that server reaches the apps through
``kube_play:resolve`` (the endpoint seam, with ``loopback_only``), which reads the kubelet's
endpoints file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from kube_play import ENDPOINTS_FILE_VAR, PlayedKubelet

from jupyter_svc.backends.kubernetes.client import api_client

#: What every contract spec needs besides its command on a cluster: an image (the played kubelet
#: runs the command itself and never pulls it).
IMAGE = "registry.example/contract-echo:1"


class KubeletThread:
    """A played kubelet on its own loop in a thread; ``call`` runs a coroutine there."""

    def __init__(self, kubeconfig: str, namespace: str, tmp: Path) -> None:
        self.kubeconfig, self.namespace, self.tmp = kubeconfig, namespace, tmp
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"kubelet {namespace}", daemon=True)
        self.kubelet: PlayedKubelet | None = None
        self._api: Any = None

    def call(self, coro: Any, timeout: float = 60) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def start(self) -> None:
        self.thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        self._api = await api_client(self.kubeconfig)
        from kubernetes_asyncio import client as k8s

        await k8s.CoreV1Api(self._api).create_namespace({"metadata": {"name": self.namespace}})
        self.kubelet = PlayedKubelet(self._api, self.namespace, self.tmp, runtime="process")
        await self.kubelet.start()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _stop(self) -> None:
        from kubernetes_asyncio import client as k8s

        try:
            if self.kubelet is not None:
                await self.kubelet.stop()
            await k8s.CoreV1Api(self._api).delete_namespace(self.namespace, propagation_policy="Background")
        finally:
            await self._api.close()


@contextlib.contextmanager
def kubernetes_case_cluster(kubeconfig: str, tmp: Path) -> Iterator[dict[str, dict[str, Any]]]:
    """A namespace with a played kubelet; yields the server's config for the backend there (the
    endpoints file's path goes to the server through the environment it inherits)."""
    namespace = f"jsvc-contract-{uuid.uuid4().hex[:8]}"
    played = tmp / "kubelet"
    played.mkdir(parents=True, exist_ok=True)
    kubelet = KubeletThread(kubeconfig, namespace, played)
    previous = os.environ.get(ENDPOINTS_FILE_VAR)
    os.environ[ENDPOINTS_FILE_VAR] = str(played / "endpoints.json")
    try:
        kubelet.start()
        yield {"KubernetesBackend": {"namespace": namespace, "kubeconfig": kubeconfig, "owner": "contract",
                                     "endpoint_resolver": "kube_play:resolve", "loopback_only": True}}
    finally:
        kubelet.stop()
        if previous is None:
            os.environ.pop(ENDPOINTS_FILE_VAR, None)
        else:
            os.environ[ENDPOINTS_FILE_VAR] = previous
