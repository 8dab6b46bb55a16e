"""``ServiceBoard``: a live list of services with their actions, refreshing itself in a kernel."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from jupyter_svc.client.api_calls import ApiError
from jupyter_svc.client.clients import AsyncClient, Client
from jupyter_svc.model.status import ServiceView
from jupyter_svc.notebook.display import ago, badge, idle_window, lifetime

BUTTON = w.Layout(width="auto")


class ServiceRow(w.HBox):
    """One service: name, state, link and one button per action."""

    def __init__(self, board: ServiceBoard, view: ServiceView) -> None:
        self.board, self.name = board, view.name
        self.label, self.state, self.link, self.info = w.HTML(), w.HTML(), w.HTML(), w.HTML()
        self.buttons: dict[str, w.Button] = {}
        for action, icon in (("wake", "play"), ("stop", "stop"), ("restart", "refresh"), ("disable", "ban"),
                             ("logs", "file-text"), ("delete", "trash")):
            button = w.Button(description=action, icon=icon, layout=BUTTON)
            button.on_click(self._on(action))
            self.buttons[action] = button
        self.confirm = w.HBox()
        super().__init__([self.label, self.state, self.link, self.info, *self.buttons.values(), self.confirm])
        self.update(view)

    def _on(self, action: str) -> Callable[[Any], None]:
        return lambda _: self.board.act(self.name, action)

    def update(self, view: ServiceView) -> None:
        self.view = view
        state = view.status.state.value
        url = html.escape(self.board.client.link(view))
        self.label.value = f"<b style='display:inline-block;min-width:120px'>{html.escape(view.name)}</b>"
        self.state.value = badge(state)
        self.link.value = f'<a href="{url}" target="_blank" style="margin:0 8px">open</a>'
        lives = lifetime(view)
        lives = "" if lives == "-" else f" · {html.escape(lives)}"
        self.info.value = (f"<small>idle {idle_window(view)} · active {ago(view.status.last_activity)} · "
                           f"{view.status.restarts} restarts{lives}</small>")
        disabled = state == "disabled"
        self.buttons["disable"].description = "enable" if disabled else "disable"
        self.buttons["wake"].disabled = disabled or state in ("ready", "starting", "waking")
        self.buttons["stop"].disabled = state in ("scaled_to_zero", "disabled", "stopping")

    def ask_delete(self) -> None:
        yes = w.Button(description=f"delete {self.name}?", button_style="danger", layout=BUTTON)
        no = w.Button(description="keep", layout=BUTTON)
        yes.on_click(lambda _: self.board.act(self.name, "confirm-delete"))
        no.on_click(lambda _: setattr(self.confirm, "children", ()))
        self.confirm.children = (yes, no)


class ServiceBoard(w.VBox):
    """All services with open, wake, stop, restart, enable/disable, logs and delete (confirmed).

    In a kernel it follows the server's event stream on the kernel's event loop (no thread),
    reconnecting every ``interval`` seconds if the stream drops; :meth:`refresh` polls at once.
    """

    def __init__(self, client: Client | None = None, interval: float = 3.0, auto: bool = True,
                 wait: float = 120.0) -> None:
        self.client = client or Client()
        self.interval, self.wait = interval, wait
        self.rows: dict[str, ServiceRow] = {}
        self.body = w.VBox()
        self.message = w.HTML()
        self.logs = w.HTML(layout=w.Layout(max_height="20em", overflow="auto"))
        refresh = w.Button(description="refresh", icon="refresh", layout=BUTTON)
        refresh.on_click(lambda _: self.refresh())
        super().__init__([w.HBox([w.HTML("<b>Services</b>"), refresh, self.message]), self.body, self.logs])
        self._task: asyncio.Task[None] | None = None
        self.refresh()
        if auto:
            self.start()

    def refresh(self, views: list[ServiceView] | None = None) -> None:
        try:
            views = self.client.list() if views is None else views
        except ApiError as exc:
            self.message.value = f"<span style='color:#c62828'>{html.escape(exc.message)}</span>"
            return
        for view in views:
            if view.name in self.rows:
                self.rows[view.name].update(view)
            else:
                self.rows[view.name] = ServiceRow(self, view)
        for gone in set(self.rows) - {v.name for v in views}:
            del self.rows[gone]
        empty = [w.HTML("<i>No services yet.</i>")] if not views else []
        self.body.children = [*empty, *(self.rows[v.name] for v in views)]

    def act(self, name: str, action: str) -> None:
        """What a button does; errors show in the board's message line."""
        row = self.rows.get(name)
        self.message.value = f"<i>⏳ {html.escape(action)} {html.escape(name)}…</i>"
        try:
            if action == "logs":
                text = self.client.logs(name, 200)
                self.logs.value = f"<b>{html.escape(name)}</b><pre>{html.escape(text)}</pre>"
            elif action == "delete" and row is not None:
                row.ask_delete()
            elif action == "confirm-delete":
                self.client.delete(name)
            elif action == "disable" and row is not None and row.view.status.state.value == "disabled":
                self.client.enable(name, self.wait)
            else:
                getattr(self.client, action)(name, self.wait)
        except ApiError as exc:
            self.message.value = f"<span style='color:#c62828'>{html.escape(str(exc))}</span>"
            return
        self.message.value = ""
        if action not in ("logs", "delete"):
            self.refresh()

    def start(self) -> None:
        """Refresh on the running event loop (a kernel has one); nothing happens without one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._poll())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _poll(self) -> None:
        """Follow the server's event stream; after it drops, poll once and reconnect."""
        server = self.client.server
        remote = AsyncClient(server.url, server.token)
        while True:
            views = {name: row.view for name, row in self.rows.items()}
            try:
                async for event in remote.events():
                    if event.view is not None:
                        views[event.name] = event.view
                    else:
                        views.pop(event.name, None)
                    self.refresh(sorted(views.values(), key=lambda v: v.name))
            except ApiError:
                pass
            await asyncio.sleep(self.interval)
            try:
                self.refresh(await remote.list())
            except ApiError:
                continue
