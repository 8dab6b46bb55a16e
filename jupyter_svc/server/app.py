"""The Jupyter server extension: configuration, wiring, start and shutdown."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir, jupyter_runtime_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, List, Tuple, Unicode, default

from jupyter_svc.model.units import parse_duration
from jupyter_svc.proxy.proxy import Proxy, ProxySettings
from jupyter_svc.proxy.routes import proxy_routes, route_first
from jupyter_svc.services.activity import ActivitySettings, ActivityTracker
from jupyter_svc.services.lifecycle import LifecycleSettings
from jupyter_svc.services.lifetimes import LifetimeKeeper, LifetimeSettings
from jupyter_svc.services.manager import ServiceManager
from jupyter_svc.services.metrics import Metrics
from jupyter_svc.services.state_lock import StateFolderLock
from jupyter_svc.services.store import Store
from jupyter_svc.upstream.pool import UpstreamPool

from .backend_config import build_backends, server_info
from .handlers import api_routes
from .kernel_events import kernel_alive, watch_kernels


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

    backends = List(
        Unicode(), default_value=["local"],
        help="Backends services may run on, by entry-point name (group 'jupyter_svc.backends': 'local', "
             "'kubernetes', or a third party's); each has its options on its own class (c.LocalBackend...). "
             "The default_backend is added if missing.",
    ).tag(config=True)
    default_backend = Unicode("local", help="Backend for specs that do not name one.").tag(config=True)
    default_idle_window = Unicode(
        "",
        help="Idle window for services whose spec leaves scale_to_zero unset ('5m', 'one_hour'); "
             "empty keeps them up until stopped.",
    ).tag(config=True)
    # deprecated: each is now an option of its backend's class (server/backend_config.py forwards them)
    port_range = Tuple(
        Int(), Int(), default_value=(20000, 29999), help="Deprecated: use LocalBackend.port_range.",
    ).tag(config=True)
    local_host = Unicode("127.0.0.1", help="Deprecated: use LocalBackend.host.").tag(config=True)
    refuse_exposed_services = Bool(False, help="Deprecated: use LocalBackend.refuse_exposed_services.").tag(config=True)
    max_log_bytes = Int(10 * 1024 * 1024, help="Deprecated: use LocalBackend.max_log_bytes.").tag(config=True)
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

    wake_timeout = Float(
        120.0, help="Seconds a request to a service at zero is held while it wakes; then 504 with Retry-After.",
    ).tag(config=True)
    max_held_requests = Int(
        1000, help="Requests held per waking service; more get 503 with Retry-After.",
    ).tag(config=True)
    wake_page = Bool(
        True, help="Show browsers a 'waking...' page that reloads itself, instead of holding the navigation.",
    ).tag(config=True)
    max_body_size = Int(10 * 1024**3, help="Largest request body the proxy forwards, in bytes.").tag(config=True)
    websocket_max_message_size = Int(
        64 * 1024**2, help="Largest WebSocket message a client may send through the proxy, in bytes "
                           "(larger ones close the socket with 1009).",
    ).tag(config=True)
    upstream_connections = Int(
        512, help="Size of the proxy's pool of keep-alive connections to services.",
    ).tag(config=True)
    upstream_connections_per_service = Int(
        256, help="Connections to one service in flight at once (open event streams included); more get "
                  "503 with Retry-After once upstream_wait_timeout passes, while other services keep answering.",
    ).tag(config=True)
    websocket_connections_per_service = Int(
        256, help="WebSockets open at once to one service through the proxy (each holds a connection of its "
                  "own, outside upstream_connections); more get 503 with Retry-After.",
    ).tag(config=True)
    upstream_wait_timeout = Float(
        10.0, help="Seconds a proxied request waits for a free upstream connection before it is answered "
                   "503 with Retry-After.",
    ).tag(config=True)
    api_max_body_size = Int(
        4 * 1024**2, help="Largest request body the REST API takes, in bytes (a spec or a manifest); larger "
                          "ones are answered 413 and never kept in memory.",
    ).tag(config=True)
    auth_cache_seconds = Float(
        10.0, help="Seconds the proxy remembers a user the IdentityProvider authenticated, keyed by the "
                   "exact credentials (Host, Authorization header, cookies), instead of asking it again "
                   "on every request (authorization is still checked every time); 0: ask every time.",
    ).tag(config=True)
    idle_check_interval = Float(
        1.0, help="Seconds between passes of the idle loop (scale-down fires within this of the window).",
    ).tag(config=True)
    keep_warm_lead = Float(
        60.0, help="Seconds before a keep-warm window opens that its service is started, so that the first "
                   "user of the window does not wait for it.",
    ).tag(config=True)
    drain_timeout = Float(
        10.0, help="Seconds in-flight requests get to finish before an idle service is stopped.",
    ).tag(config=True)
    websocket_idle_timeout = Float(
        0.0, help="Seconds after which an open but silent WebSocket no longer keeps its service up; 0: never.",
    ).tag(config=True)
    activity_exclude_paths = List(
        Unicode(), default_value=[],
        help="Regexes of request paths (e.g. polling endpoints) that do not count as activity.",
    ).tag(config=True)
    count_as_server_activity = Bool(
        True, help="Record service traffic in the Jupyter server's last_activity_times, keeping it alive.",
    ).tag(config=True)

    manager: ServiceManager
    state_lock: StateFolderLock
    tracker: ActivityTracker
    lifetimes: LifetimeKeeper
    proxy: Proxy

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
        runtime_dir = getattr(self.serverapp, "runtime_dir", None) or jupyter_runtime_dir()
        # a spec without cwd runs in the server's root_dir (what REST users see), not in its process's cwd
        info = server_info(state, runtime_dir, self.serverapp, self.readiness_timeout)
        backends = build_backends(self, [*self.backends, self.default_backend], info)
        self.state_lock = StateFolderLock(state)
        base_url = self.serverapp.base_url if self.serverapp else "/"
        upstream = UpstreamPool(self.upstream_connections, per_endpoint=self.upstream_connections_per_service,
                                wait_timeout=self.upstream_wait_timeout)  # the proxy's and the readiness probes'
        self.manager = ServiceManager(Store(state / "services"), backends, self.default_backend,
                                      settings, upstream, base_url=base_url)
        # taken now, before the server answers anything, so that no request sees services of a folder
        # another server holds (a non-blocking flock and a small file: no wait on the event loop)
        self.manager.refusing = self.state_lock.acquire(getattr(self.serverapp, "connection_url", "") or "")
        metrics = Metrics()
        activity = ActivitySettings(
            default_idle_window=parse_duration(self.default_idle_window) if self.default_idle_window else 0.0,
            check_interval=self.idle_check_interval, drain_timeout=self.drain_timeout,
            websocket_idle_timeout=self.websocket_idle_timeout, exclude_paths=list(self.activity_exclude_paths),
            count_as_server_activity=self.count_as_server_activity,
        )
        web_settings = self.serverapp.web_app.settings if self.serverapp and self.serverapp.web_app else {}
        self.tracker = ActivityTracker(self.manager, activity, metrics, web_settings)
        self.manager.lifecycle.drain = self.tracker.drain
        self.lifetimes = LifetimeKeeper(self.manager, LifetimeSettings(
            check_interval=self.idle_check_interval, keep_warm_lead=self.keep_warm_lead), kernel_alive(self.serverapp))
        watch_kernels(self.serverapp, self.lifetimes)
        self.proxy = Proxy(self.manager, self.tracker, metrics, ProxySettings(
            wake_timeout=self.wake_timeout, max_held_requests=self.max_held_requests, wake_page=self.wake_page,
            max_body_size=self.max_body_size, websocket_max_message_size=self.websocket_max_message_size,
            auth_cache_seconds=self.auth_cache_seconds,
            websockets_per_service=self.websocket_connections_per_service,
        ), upstream)
        self.settings.update({"jupyter_svc_manager": self.manager, "jupyter_svc_activity": self.tracker,
                              "jupyter_svc_metrics": metrics, "jupyter_svc_proxy": self.proxy,
                              "jupyter_svc_api_max_body_size": self.api_max_body_size})

    def initialize_handlers(self) -> None:
        # the proxy first: it takes most requests, and its pattern leaves out reserved names (api)
        self.handlers.extend(proxy_routes())
        self.handlers.extend((rf"/svc/api/{pattern}", handler) for pattern, handler in api_routes())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        origin = serverapp.connection_url[: -len(serverapp.base_url)] if serverapp.base_url != "/" \
            else serverapp.connection_url.rstrip("/")
        self.manager.server_url = origin.rstrip("/")
        self.manager.server_address.listen_on(serverapp.ip, serverapp.port)  # no service URL may be it
        # kernels and terminals inherit these, so `jupyter_svc.client` finds this server by itself
        os.environ["JUPYTER_SVC_URL"] = serverapp.connection_url
        token = getattr(serverapp.identity_provider, "token", "") or ""
        if token:
            os.environ["JUPYTER_SVC_TOKEN"] = token
        if self.manager.refusing is None:  # this server owns the folder
            for backend in self.manager.backends.values():
                stopped = await backend.stop_leftovers(self.stop_grace)
                if stopped:
                    self.log.warning("jupyter-svc: stopped %d process(es) a previous server left running", stopped)
            await self.manager.start()
        else:
            self.log.error("jupyter-svc: %s", self.manager.refusing)
            self.manager.restored.done.set()  # nothing to restore: requests get the refusal
        self.tracker.start()
        if self.manager.refusing is None:
            self.lifetimes.start()
        route_first(serverapp.web_app)  # all extensions have added their routes by now
        self.log.info("jupyter-svc: %d service(s) restored from %s", len(self.manager.services), self.state_dir)

    def current_activity(self) -> bool:
        """Requests or WebSockets in flight right now; an idle running service is not activity."""
        return self.tracker.active_now()

    async def stop_extension(self) -> None:
        await self.tracker.stop()
        await self.lifetimes.stop()
        await self.manager.close()
        await self.proxy.close()
        self.state_lock.release()
