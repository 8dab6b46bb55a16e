"""The Jupyter server extension: configuration, wiring, start and shutdown."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, Tuple, Unicode, default

from .backends.local import LocalBackend, PortAllocator
from .handlers import api_routes
from .lifecycle import LifecycleSettings
from .manager import ServiceManager
from .store import Store


class SvcExtension(ExtensionApp):
    """Services (web apps) managed from Jupyter, proxied at /svc/<name>/ and scaled to zero."""

    name = "jupyter_svc"
    load_other_extensions = True

    state_dir = Unicode(
        help="Folder for service specs, statuses and logs. Default: <jupyter data dir>/svc.",
    ).tag(config=True)

    @default("state_dir")
    def _default_state_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "svc")

    default_backend = Unicode("local", help="Backend for specs that do not name one.").tag(config=True)
    default_idle_window = Unicode(
        "",
        help="Idle window for services whose spec leaves scale_to_zero unset ('5m', 'one_hour'); "
             "empty keeps them up until stopped.",
    ).tag(config=True)
    port_range = Tuple(
        Int(), Int(), default_value=(20000, 29999),
        help="Ports the local backend picks from for services with port 0 (inclusive).",
    ).tag(config=True)
    local_host = Unicode("127.0.0.1", help="Address local services are reached at.").tag(config=True)
    readiness_timeout = Float(
        60.0, help="Seconds a new instance may take to pass its readiness probe before it is failed.",
    ).tag(config=True)
    stop_grace = Float(5.0, help="Seconds between SIGTERM and SIGKILL when stopping.").tag(config=True)
    restart_backoff_initial = Float(
        0.5, help="First pause before restarting an exited service; doubles with each quick failure.",
    ).tag(config=True)
    restart_backoff_max = Float(30.0, help="Longest pause between restarts.").tag(config=True)
    max_restarts = Int(
        5, help="Quick restarts in a row after which a service is marked failed (a crash loop).",
    ).tag(config=True)
    restart_reset_after = Float(
        60.0, help="Seconds of healthy running after which an exit no longer counts towards a crash loop.",
    ).tag(config=True)
    max_log_bytes = Int(
        10 * 1024 * 1024, help="Size of a service's log file before it rolls over (one old file kept).",
    ).tag(config=True)

    manager: ServiceManager

    def initialize_settings(self) -> None:
        state = Path(self.state_dir)
        settings = LifecycleSettings(
            readiness_timeout=self.readiness_timeout,
            stop_grace=self.stop_grace,
            restart_backoff_initial=self.restart_backoff_initial,
            restart_backoff_max=self.restart_backoff_max,
            max_restarts=self.max_restarts,
            restart_reset_after=self.restart_reset_after,
        )
        local = LocalBackend(state / "logs", PortAllocator(*self.port_range, host=self.local_host),
                             self.max_log_bytes, host=self.local_host, init_timeout=self.readiness_timeout)
        base_url = self.serverapp.base_url if self.serverapp else "/"
        self.manager = ServiceManager(Store(state / "services"), {local.name: local}, self.default_backend,
                                      settings, base_url=base_url)
        self.settings.update({"jupyter_svc_manager": self.manager})

    def initialize_handlers(self) -> None:
        self.handlers.extend((rf"/svc/api/{pattern}", handler) for pattern, handler in api_routes())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        origin = serverapp.connection_url[: -len(serverapp.base_url)] if serverapp.base_url != "/" \
            else serverapp.connection_url.rstrip("/")
        self.manager.server_url = origin.rstrip("/")
        # kernels and terminals inherit these, so `jupyter_svc.client` finds this server by itself
        os.environ["JUPYTER_SVC_URL"] = serverapp.connection_url
        token = getattr(serverapp.identity_provider, "token", "") or ""
        if token:
            os.environ["JUPYTER_SVC_TOKEN"] = token
        await self.manager.start()
        self.log.info("jupyter-svc: %d service(s) restored from %s", len(self.manager.services), self.state_dir)

    async def stop_extension(self) -> None:
        await self.manager.close()
