"""End to end: the JupyterLab panel in a real Chromium against a real `jupyter lab`.

Starts `jupyter lab` with jupyter-svc on a free port, drives Debian's Chromium through
Playwright (its own browser download does not work here), creates a service through the REST
API, and checks that the panel shows it without a reload (with its launcher card), that restart
changes its state, that the edit form shows the server's field error next to the field and then
saves, that the logs viewer follows the log, that the panel follows the dark theme, that its
settings are in the Settings Editor and apply at once, that the logs and edit tabs come back
after a page reload, and that delete asks first. Screenshots go to test-artifacts/
(lab-panel.png, lab-panel-only.png, lab-form-errors.png, lab-panel-dark.png, lab-settings.png,
lab-reloaded.png).

JupyterLab loads the first jupyter-svc it finds on its data path; the test puts a link to the
build beside the jupyter_svc it imports (a checkout's `jlpm build`) first on that path, so the
browser runs the code under test and not a copy an earlier `pip install` left in sys.prefix.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from notebook_helpers.fixtures import api, fetch
from notebook_helpers.server import LiveServer, _wait_up, free_port

import jupyter_svc

CHROMIUM = os.environ.get("JUPYTER_SVC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PANEL_ID = "jupyter-svc:panel"
LAB_EXTENSION = "jupyter-svc"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SERVICE = "e2e-http"
# a blue square, as a data: URI (a spec's icon shows on its launcher card)
ICON = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">'
    b'<rect width="1" height="1" fill="#3a7bd5"/></svg>'
).decode()

if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - CI installs it through the test extra
    pytest.skip("the playwright package is not installed (pip install playwright)", allow_module_level=True)

pytestmark = pytest.mark.timeout(120)


def _listed_from(output: str) -> Path | None:
    """The folder `jupyter labextension list` shows jupyter-svc under, if it is there and enabled."""
    folder = None
    for line in output.splitlines():
        if line.startswith("/"):
            folder = Path(line.strip())
        elif line.split()[:1] == [LAB_EXTENSION] and "enabled" in line:
            return folder
    return None


@contextlib.contextmanager
def lab_server(tmp_path: Path) -> Iterator[LiveServer]:
    """`jupyter lab` with jupyter-svc and this checkout's build, on a free loopback port, its
    folders under ``tmp_path`` (also what labextension/ui-tests/screenshots.py runs)."""
    port, token = free_port(), os.urandom(16).hex()
    root, runtime, state, config, data = (tmp_path / d
                                          for d in ("root", "runtime", "state", "config", "data"))
    for folder in (root, runtime, config, data):
        folder.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_svc": True}}})
    )
    # no "get notified about news?" toast over the screenshot, and no "build recommended" dialog
    # over the page when another package put a source extension into the lab app dir (dash does)
    (config / "labconfig").mkdir()
    (config / "labconfig" / "page_config.json").write_text(json.dumps({
        "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
        "buildCheck": False,
        "buildAvailable": False,
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_SVC_", "JPY_"))}
    # JUPYTER_PREFER_ENV_PATH=0: this data dir first even inside a virtualenv (jupyter_core would
    # otherwise put the environment's share/jupyter, with an older installed build, before it)
    env.update({"JUPYTER_CONFIG_DIR": str(config), "JUPYTER_DATA_DIR": str(data),
                "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_PREFER_ENV_PATH": "0"})
    build = Path(jupyter_svc.__file__).resolve().parent / "labextension"
    if (build / "package.json").exists():
        (data / "labextensions").mkdir()
        (data / "labextensions" / LAB_EXTENSION).symlink_to(build, target_is_directory=True)
    listed = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                            capture_output=True, text=True, timeout=60, env=env)
    output = listed.stdout + listed.stderr
    folder = _listed_from(output)
    assert folder is not None, (
        f"the {LAB_EXTENSION} lab extension is not installed and enabled "
        f"(pip install . or `jlpm build` in labextension/ builds it):\n{output}"
    )
    if (build / "package.json").exists():
        assert folder == data / "labextensions", f"JupyterLab would load another build:\n{output}"
    log_path = tmp_path / "lab.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
             f"--ServerApp.root_dir={root}", f"--SvcExtension.state_dir={state}",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(root), start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}/", token, root, runtime, state, config, process, log_path)
    try:
        _wait_up(server, "svc/api/services")
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LiveServer]:
    with lab_server(tmp_path) as server:
        yield server


def test_panel_follows_services_live(lab: LiveServer) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console",
                    lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            if os.environ.get("E2E_DEBUG"):
                page.on("console", lambda msg: print("CONSOLE", msg.type, msg.text))
            page.goto(f"{lab.url}lab?token={lab.token}")
            page.wait_for_selector(".jp-Launcher", timeout=30_000)
            dialogs = page.locator(".jp-Dialog")
            assert dialogs.count() == 0, f"a dialog covers JupyterLab: {dialogs.first.inner_text()}"

            # open the panel from its sidebar tab
            page.click(f'.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="{PANEL_ID}"]')
            panel = page.locator(f'[id="{PANEL_ID}"]')
            panel.wait_for(state="visible", timeout=10_000)
            # the event stream is up (not the polling fallback)
            panel.locator(".jp-svc-Mode-live").wait_for(timeout=15_000)
            assert panel.locator("[data-service]").count() == 0
            page.evaluate("window.__svcNoReload = true")

            # a service created through the API appears without a reload
            status, view = api(lab, "PUT", f"services/{SERVICE}", {
                "name": SERVICE,
                "description": "e2e test: python -m http.server",
                "command": [sys.executable, "-u", "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
                "scale_to_zero": "10m",
                "icon": ICON,
            })
            assert status in (200, 201, 202), view
            card = panel.locator(f'[data-service="{SERVICE}"]')
            card.wait_for(timeout=10_000)
            page.wait_for_selector(f'[data-service="{SERVICE}"] .jp-svc-Badge[data-state="ready"]',
                                   timeout=30_000)
            assert page.evaluate("window.__svcNoReload") is True, "the page reloaded"
            assert card.locator('[data-field="idle-window"]').inner_text() == "10m"
            assert card.locator('[data-field="backend"]').inner_text() == "local"
            assert card.locator(".jp-svc-Url").get_attribute("href").endswith(f"/svc/{SERVICE}/")
            # the launcher got a card for it, with the spec's icon
            launcher_card = page.locator(".jp-Launcher .jp-LauncherCard", has_text=SERVICE)
            assert launcher_card.count() == 1
            assert launcher_card.locator("svg image").get_attribute("href") == ICON
            started_before = api(lab, "GET", f"services/{SERVICE}")[1]["status"]["started_at"]

            # restart from the panel: record every state the badge shows on the way
            page.evaluate("""name => {
                window.__svcStates = [];
                const seen = () => {
                    const badge = document.querySelector(`[data-service="${name}"] .jp-svc-Badge`);
                    const state = badge && badge.dataset.state;
                    if (state && window.__svcStates[window.__svcStates.length - 1] !== state) {
                        window.__svcStates.push(state);
                    }
                };
                seen();
                new MutationObserver(seen).observe(document.body,
                    {subtree: true, childList: true, attributes: true, attributeFilter: ['data-state']});
            }""", SERVICE)
            card.locator('[data-action="restart"]').click()
            # done when the badge went through starting and is back at ready
            page.wait_for_function(
                """() => {
                    const s = window.__svcStates;
                    const i = s.lastIndexOf('starting');
                    return i > 0 && s[s.length - 1] === 'ready' && i < s.length - 1;
                }""",
                timeout=30_000,
            )
            states = page.evaluate("window.__svcStates")
            if os.environ.get("E2E_DEBUG"):
                print("restart states:", states)
            assert states[0] == "ready" and states[-1] == "ready", states
            assert "ready" not in states[1:-1], f"the badge went back to ready mid-restart: {states}"
            after = api(lab, "GET", f"services/{SERVICE}")[1]["status"]
            assert after["state"] == "ready" and after["started_at"] != started_before, (after, states)

            # edit through the schema form: the server's field error shows next to its field
            card.locator('[data-action="edit"]').click()
            form = page.locator(".jp-svc-Form")
            form.locator("#root_port").wait_for(timeout=10_000)
            form.locator("#root_port").fill("70000")
            form.locator('[data-action="save"]').click()
            port_group = form.locator(".form-group", has=page.locator("#root_port")).last
            port_group.locator(".validationErrors", has_text="65535").wait_for(timeout=10_000)
            form.locator(".jp-svc-FormProblem").wait_for()
            port_group.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "lab-form-errors.png"))
            form.locator("#root_port").fill("0")
            form.locator("#root_scale_to_zero").fill("15m")
            form.locator('[data-action="save"]').click()
            form.wait_for(state="detached", timeout=10_000)
            page.wait_for_function(
                "sel => document.querySelector(sel)?.textContent === '15m'",
                arg=f'[data-service="{SERVICE}"] [data-field="idle-window"]', timeout=10_000,
            )
            assert api(lab, "GET", f"services/{SERVICE}")[1]["spec"]["scale_to_zero"] == "15m"

            # the logs viewer follows the log: existing lines, then a new request's line
            card.locator('[data-action="logs"]').click()
            logs = page.locator(f'[id="jupyter-svc-logs-{SERVICE}"] .jp-svc-LogView')
            logs.wait_for(timeout=10_000)
            logs.and_(page.locator('[data-state="following"]')).wait_for(timeout=10_000)
            page.wait_for_function(
                "sel => (document.querySelector(sel)?.textContent || '').includes('HTTP/1.1')",
                arg=f'[id="jupyter-svc-logs-{SERVICE}"] .jp-svc-LogText', timeout=15_000,
            )
            marker = f"e2e-marker-{os.getpid()}"
            # no such file: http.server answers 404 through the proxy, and logs the request
            assert fetch(lab, f"svc/{SERVICE}/{marker}", timeout=15)[0] == 404
            page.wait_for_function(
                "([sel, text]) => (document.querySelector(sel)?.textContent || '').includes(text)",
                arg=[f'[id="jupyter-svc-logs-{SERVICE}"] .jp-svc-LogText', marker], timeout=15_000,
            )

            page.screenshot(path=str(ARTIFACTS / "lab-panel.png"))
            panel.screenshot(path=str(ARTIFACTS / "lab-panel-only.png"))

            # dark theme: the panel follows JupyterLab's theme variables
            page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
            page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
            page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
            page.wait_for_selector('body[data-jp-theme-light="false"]', state="attached", timeout=10_000)
            page.keyboard.press("Escape")

            luminance = """sel => {
                const [r, g, b] = getComputedStyle(document.querySelector(sel)).backgroundColor
                    .match(/\\d+/g).map(Number);
                return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
            }"""
            page.wait_for_function(f"sel => ({luminance})(sel) < 0.3", arg=f'[id="{PANEL_ID}"]',
                                   timeout=10_000)
            badge = f'[data-service="{SERVICE}"] .jp-svc-Badge'
            assert page.evaluate(luminance, badge) > 0.1  # the badge keeps its colour
            panel.screenshot(path=str(ARTIFACTS / "lab-panel-dark.png"))

            # the settings: in the REST API and the Settings Editor, today's timings as defaults
            status, text = fetch(lab, "lab/api/settings/jupyter-svc:plugin")
            assert status == 200, text
            schema = json.loads(text)["schema"]
            assert schema["jupyter.lab.setting-icon"] == "jupyter-svc:services"
            assert {name: prop["default"] for name, prop in schema["properties"].items()} == {
                "pollInterval": 3, "reconnectDelay": 10, "defaultView": "detailed", "groupBy": "state",
                "openIn": "tab"}
            assert all(prop["title"] and prop["description"] for prop in schema["properties"].values())
            page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
            page.locator(".lm-Menu-itemLabel", has_text="Settings Editor").first.click()
            page.locator('.jp-PluginList-entry[data-id="jupyter-svc:plugin"]').click()
            editor = page.locator(".jp-SettingsForm", has_text="Services (jupyter-svc)")
            field = 'jp-SettingsEditor-jupyter-svc:plugin_{}'
            editor.locator(f'[id="{field.format("pollInterval")}"]').wait_for(timeout=10_000)
            assert editor.locator(f'[id="{field.format("pollInterval")}"]').input_value() == "3"
            assert editor.locator(f'[id="{field.format("reconnectDelay")}"]').input_value() == "10"
            assert "Poll interval" in editor.inner_text() and "Reconnect delay" in editor.inner_text()
            # a change applies at once: the panel turns compact, and the choice is saved
            view_select = editor.locator(f'[id="{field.format("defaultView")}"]')
            view_select.select_option(label="Compact: a row per service; its details and actions on expand")
            panel.locator('.jp-svc-List[data-view="compact"]').wait_for(timeout=10_000)
            assert card.locator('[data-field="backend"]').count() == 0
            # a compact row opens to its details and actions
            card.locator(".jp-svc-RowHeader").click()
            card.locator('[data-field="backend"]').wait_for(timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "lab-settings.png"))
            deadline = time.monotonic() + 10
            while '"compact"' not in json.loads(fetch(lab, "lab/api/settings/jupyter-svc:plugin")[1])["raw"]:
                assert time.monotonic() < deadline, "the Settings Editor did not save the view"
                time.sleep(0.2)

            # after a reload the logs tab and the edit form come back (and the view stays compact)
            card.locator('[data-action="edit"]').click()
            page.locator(".jp-svc-Form #root_port").wait_for(timeout=10_000)
            # JupyterLab saves its workspace a moment after a change: reload once it holds both tabs
            deadline = time.monotonic() + 10
            while not all(key in fetch(lab, "lab/api/workspaces/default")[1] for key in
                          (f"jupyter-svc-logs:{SERVICE}", f"jupyter-svc-form:{SERVICE}")):
                assert time.monotonic() < deadline, "JupyterLab did not save the tabs in its workspace"
                time.sleep(0.2)
            page.reload()
            reloaded_logs = f'[id="jupyter-svc-logs-{SERVICE}"]'
            # (a tab behind the edit form's: there, not visible)
            page.locator(f"{reloaded_logs} .jp-svc-LogView[data-state='following']").wait_for(
                state="attached", timeout=30_000)
            page.wait_for_function(
                "([sel, text]) => (document.querySelector(sel)?.textContent || '').includes(text)",
                arg=[f"{reloaded_logs} .jp-svc-LogText", marker], timeout=15_000,
            )
            form = page.locator(".jp-svc-Form", has_text=f"Edit service {SERVICE}")
            form.locator("#root_port").wait_for(timeout=15_000)
            assert form.locator("#root_name").input_value() == SERVICE
            panel.locator('.jp-svc-List[data-view="compact"]').wait_for(timeout=15_000)
            page.screenshot(path=str(ARTIFACTS / "lab-reloaded.png"))
            card.locator(".jp-svc-RowHeader").click()  # a reload closed it

            # delete asks first, then the card and the launcher card go
            card.locator('[data-action="delete"]').click()
            dialog = page.locator(".jp-Dialog")
            dialog.wait_for(timeout=5_000)
            assert SERVICE in dialog.inner_text()
            dialog.locator("button.jp-mod-warn").click()
            card.wait_for(state="detached", timeout=10_000)
            assert api(lab, "GET", f"services/{SERVICE}")[0] == 404
            assert page.locator(".jp-Launcher .jp-LauncherCard", has_text=SERVICE).count() == 0
        finally:
            browser.close()
    # Chromium itself logs every answer >= 400; the one 422 is the invalid save above, on purpose
    expected = "Failed to load resource: the server responded with a status of 422"
    assert [e for e in errors if expected in e] == [f"console: {expected} (Unprocessable Entity)"], errors
    errors = [e for e in errors if expected not in e]
    assert not errors, "console errors in JupyterLab:\n" + "\n".join(errors)
