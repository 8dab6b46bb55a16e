"""End to end: the panel with many services, a failure, its log and an app in a tab, in a real
Chromium against a real `jupyter lab` (the fixture of test_labextension_e2e).

Twelve services (one real web app, one that crashes while the page is open, ten disabled) list as
one-line rows grouped by state, all on one screen; grouping by a label works and is saved in the
settings. The crash raises a notification; its expanded row shows the whole message. Its log
says when the process exited and with which code, can be searched and downloaded, and its tab
says "stream ended: service deleted" once the service is deleted. "Open in JupyterLab" from a
row's context menu opens a main-area tab whose sandboxed iframe shows the app.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from notebook_helpers.fixtures import api, fetch
from notebook_helpers.server import LiveServer
from test_labextension_e2e import CHROMIUM, CHROMIUM_FLAGS, PANEL_ID, lab, sync_playwright

__all__ = ["lab"]  # the fixture, shared with test_labextension_e2e

# prints a traceback-like story of 12 lines and exits 3 before it ever listens
CRASH = [sys.executable, "-c",
         "import sys\nprint('starting the crash demo', flush=True)\n"
         "for i in range(11): print(f'  File \"app.py\", line {i}, in load_config', flush=True)\n"
         "print('KeyError: DATABASE_URL', flush=True); sys.exit(3)"]
WEB = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
SHOWN = "() => [...document.querySelectorAll('[data-service]')].map(e => e.dataset.service)"
GROUPS = """() => [...document.querySelectorAll('.jp-svc-Group')].map(g => [
    g.querySelector('.jp-svc-GroupName')?.textContent, g.querySelector('.jp-svc-GroupCount')?.textContent,
    [...g.querySelectorAll('[data-service]')].map(e => e.dataset.service)])"""


def _put(lab: LiveServer, name: str, spec: dict[str, Any]) -> None:
    status, body = api(lab, "PUT", f"services/{name}", {"name": name, **spec})
    assert status in (200, 201, 202), body


def _setting(lab: LiveServer, key: str) -> Any:
    raw = json.loads(fetch(lab, "lab/api/settings/jupyter-svc:plugin")[1])["raw"]
    return json.loads(re.sub(r"^\s*//.*$", "", raw, flags=re.MULTILINE) or "{}").get(key)


def test_many_services_a_failure_its_log_and_an_app_in_a_tab(lab: LiveServer) -> None:
    errors: list[str] = []
    _put(lab, "web", {"command": WEB, "labels": {"team": "geo"}, "description": "files of the root folder"})
    for i in range(1, 11):
        _put(lab, f"s{i}", {"command": ["x"], "desired_state": "disabled",
                            "labels": {"team": "geo" if i % 2 else "ml"}})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            page = context.new_page()
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.goto(f"{lab.url}lab?token={lab.token}")
            page.wait_for_selector(".jp-Launcher", timeout=30_000)
            page.click(f'.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="{PANEL_ID}"]')
            panel = page.locator(f'[id="{PANEL_ID}"]')
            panel.locator(".jp-svc-Mode-live").wait_for(timeout=15_000)
            panel.locator('.jp-svc-Header [data-action="toggle-view"]').click()
            panel.locator('.jp-svc-List[data-view="compact"]').wait_for(timeout=5_000)

            # a service that fails while the page is open: a notification with its reason
            _put(lab, "crash", {"command": CRASH, "restart_policy": "never"})
            toast = page.locator(".Toastify__toast", has_text="crash failed")
            toast.first.wait_for(timeout=30_000)
            assert "exited with code 3" in toast.first.inner_text()
            # its launcher card's badge followed it to failed
            page.wait_for_selector('.jp-LauncherCard:has-text("crash") circle.jp-svc-LauncherBadge'
                                   '[data-state="failed"]', state="attached", timeout=15_000)
            page.wait_for_selector('[data-service="web"][data-state="ready"]', timeout=30_000)

            # twelve one-line rows, grouped by state (failed first), all on one screen
            page.wait_for_function(f"() => ({SHOWN})().length === 12", timeout=10_000)
            assert page.evaluate(GROUPS) == [
                ["failed", "1", ["crash"]], ["ready", "1", ["web"]],
                ["disabled", "10", [f"s{i}" for i in range(1, 11)]]]
            heights = page.evaluate("() => [...document.querySelectorAll('.jp-svc-RowHeader')]"
                                    ".map(e => e.getBoundingClientRect().height)")
            assert len(heights) == 12 and max(heights) <= 30, heights
            last = panel.locator('[data-service="s10"]').bounding_box()
            assert last is not None and last["y"] + last["height"] <= 900, last
            assert "exited with code 3" in panel.locator('[data-service="crash"] .jp-svc-Info').inner_text()

            # by label: the choice is saved in the settings
            panel.locator("select.jp-svc-GroupBy").select_option("label:team")
            page.wait_for_function(f"() => ({GROUPS})().map(g => g[0]).join() === 'team=geo,team=ml,no team label'",
                                   timeout=10_000)
            assert page.evaluate(GROUPS)[0] == ["team=geo", "6", ["s1", "s3", "s5", "s7", "s9", "web"]]
            deadline = time.monotonic() + 10
            while _setting(lab, "groupBy") != "label:team":
                assert time.monotonic() < deadline, "the grouping was not saved"
                time.sleep(0.2)
            panel.locator("select.jp-svc-GroupBy").select_option("state")

            # the expanded row shows the whole failure: every line, nothing clipped
            message = api(lab, "GET", "services/crash")[1]["status"]["message"]
            assert message.count("\n") >= 10 and "KeyError: DATABASE_URL" in message
            crash = panel.locator('[data-service="crash"]')
            crash.locator(".jp-svc-RowHeader").focus()
            page.keyboard.press("Enter")
            shown = crash.locator(".jp-svc-Message")
            shown.wait_for(timeout=5_000)
            assert shown.inner_text() == message
            assert page.evaluate("e => e.scrollHeight <= e.clientHeight + 1", shown.element_handle())

            # its log: the exit line, the viewer saying so, a search, a download
            toast.first.get_by_text("Logs", exact=True).click()
            logs = page.locator('[id="jupyter-svc-logs-crash"] .jp-svc-LogView')
            logs.wait_for(timeout=10_000)
            text = logs.locator(".jp-svc-LogText")
            page.wait_for_function("e => /\\[jupyter-svc\\] pid \\d+ exited with code 3 at \\S+Z/.test(e.textContent)",
                                   arg=text.element_handle(), timeout=15_000)
            assert re.search(r"\[jupyter-svc\] started pid \d+ on port \d+ at \S+Z: ", text.inner_text())
            logs.and_(page.locator('[data-process="exited"]')).wait_for(timeout=10_000)
            status = logs.locator(".jp-svc-LogStatus")
            assert re.match(r"Following the log of crash: its process \(pid \d+\) exited with code 3 at ",
                            status.inner_text()), status.inner_text()
            logs.locator(".jp-svc-LogSearch").fill("load_config")
            # eleven lines of its output, and its command in the start line
            logs.locator(".jp-svc-LogCount", has_text="1/12").wait_for(timeout=5_000)
            logs.locator('[data-action="next"]').click()
            assert logs.locator(".jp-svc-LogCount").inner_text() == "2/12"
            assert logs.locator("mark.jp-svc-LogMatch.jp-mod-current").count() == 1
            with page.expect_download(timeout=10_000) as download:
                logs.locator('[data-action="download"]').click()
            assert re.fullmatch(r"crash-\d{4}-\d\d-\d\dT\d{6}Z\.log", download.value.suggested_filename)
            saved = Path(download.value.path()).read_text(encoding="utf-8")
            assert saved == page.evaluate("e => e.textContent", text.element_handle())
            assert "KeyError: DATABASE_URL" in saved

            # deleted: the stream ends, and the tab says so instead of waiting
            assert api(lab, "DELETE", "services/crash")[0] == 204
            logs.and_(page.locator('[data-state="ended"]')).wait_for(timeout=15_000)
            assert status.inner_text().lower().startswith("stream ended: service deleted"), status.inner_text()
            assert "[jupyter-svc] service deleted at" in text.inner_text()

            # open in JupyterLab from the row's context menu: a tab with the app in an iframe
            panel.locator('[data-service="web"] .jp-svc-RowHeader').click(button="right")
            page.locator(".lm-Menu-itemLabel", has_text="Open web in JupyterLab").click()
            tab = page.locator('[id="jupyter-svc-app-web"]')
            tab.wait_for(timeout=10_000)
            assert page.locator(".lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel",
                                has_text="web").count() >= 1
            frame = tab.locator("iframe")
            sandbox = set((frame.get_attribute("sandbox") or "").split())
            assert {"allow-scripts", "allow-same-origin", "allow-forms", "allow-popups"} <= sandbox, sandbox
            assert frame.get_attribute("src").endswith("/svc/web/")
            page.frame_locator('[id="jupyter-svc-app-web"] iframe').get_by_text(
                "Directory listing for /").wait_for(timeout=15_000)
            assert tab.locator(".jp-Toolbar .jp-ToolbarButtonComponent").count() >= 2  # reload, browser tab
        finally:
            browser.close()
    errors = [e for e in errors if "status of 404" not in e]  # the deleted crash's last look-up
    assert not errors, "console errors in JupyterLab:\n" + "\n".join(errors)
