"""Screenshots of the Services panel for the docs, light and dark: the new-service form (basic and
advanced), the list with twelve services, a failure's notification and the logs viewer.

    PYTHONPATH=. python labextension/ui-tests/screenshots.py [OUT_DIR]

It runs a real `jupyter lab` with this checkout's build (`jlpm build` first), through the same
machinery as the end-to-end tests (tests/test_labextension_e2e.py, `lab_server`), in Debian's
Chromium at 1400x900, and writes <shot>-<theme>.png into OUT_DIR (default
docs/_static/screenshots/); a PNG over 300 KB is re-encoded with a 256-colour palette. It is not
a test: pytest does not collect it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from notebook_helpers.fixtures import api  # noqa: E402
from notebook_helpers.server import LiveServer  # noqa: E402
from test_labextension_e2e import CHROMIUM, CHROMIUM_FLAGS, PANEL_ID, lab_server, sync_playwright  # noqa: E402

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "_static" / "screenshots"
MAX_BYTES = 300_000
WEB = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
# an app that fails at start, as one does when a setting is missing
DASHBOARD = """import os, sys
print("loading the sales dashboard", flush=True)
print("Traceback (most recent call last):", flush=True)
for line in (12, 31, 47):
    print(f'  File "dashboard.py", line {line}, in load_config', flush=True)
print("KeyError: 'DATABASE_URL'", flush=True)
sys.exit(3)
"""
CRASH = [sys.executable, "dashboard.py"]
TEAMS = ["geo", "ml", "geo", "ml", "sales", "geo", "ml", "sales", "geo", "ml"]


def _put(lab: LiveServer, name: str, spec: dict[str, Any]) -> None:
    status, body = api(lab, "PUT", f"services/{name}", {"name": name, **spec})
    assert status in (200, 201, 202), body


def _save(page: Any, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    if path.stat().st_size > MAX_BYTES:
        from PIL import Image

        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=256).save(path, optimize=True)
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size // 1000} KB")


def _theme(page: Any, label: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel").get_by_text(label, exact=True).click()
    light = "true" if "Light" in label else "false"
    page.wait_for_selector(f'body[data-jp-theme-light="{light}"]', state="attached", timeout=10_000)
    page.keyboard.press("Escape")


def _dismiss_toasts(page: Any) -> None:
    """Close every notification toast with its own close button (React owns their DOM)."""
    page.evaluate("""() => document.querySelectorAll('.Toastify__toast .jp-Notification-Toast-Close')
        .forEach(button => button.click())""")
    page.wait_for_function("() => !document.querySelector('.Toastify__toast')", timeout=10_000)


def _close_main_tabs(page: Any) -> None:
    """Every tab of the main area but the launcher."""
    tabs = page.locator(".jp-mod-left ~ * .lm-DockPanel-tabBar .lm-TabBar-tab, #jp-main-dock-panel .lm-TabBar-tab")
    for _ in range(20):
        closable = tabs.filter(has_not_text="Launcher").locator(".lm-TabBar-tabCloseIcon")
        if closable.count() == 0:
            return
        closable.first.click()
        page.wait_for_timeout(100)


def shoot(lab: LiveServer, page: Any, theme: str) -> None:
    panel = page.locator(f'[id="{PANEL_ID}"]')
    # the form: basic, then advanced
    panel.locator('.jp-svc-Header [data-action="create"]').click()
    form = page.locator(".jp-svc-Form", has_text="New service").last
    form.locator("#root_name").wait_for(timeout=10_000)
    form.locator("#root_name").fill("dashboard")
    form.locator("#root_command").fill("python3 -m http.server {port} --bind 127.0.0.1")
    form.locator("#root_scale_to_zero").fill("15m")
    form.locator("#root_description").fill("Sales dashboard for the weekly review")
    _save(page, f"form-basic-{theme}")
    form.locator("details.jp-svc-Advanced > summary").click()
    form.locator("#root_readiness_path").wait_for(state="visible")
    form.locator("#root_readiness_path").scroll_into_view_if_needed()
    _save(page, f"form-advanced-{theme}")
    form.locator("button.jp-mod-reject").click()
    form.wait_for(state="detached", timeout=10_000)

    # a failure while the page is open: its notification
    api(lab, "DELETE", "services/sales-report")
    page.wait_for_function("() => !document.querySelector('[data-service=\"sales-report\"]')", timeout=10_000)
    _dismiss_toasts(page)
    _put(lab, "sales-report", {"command": CRASH, "restart_policy": "never", "labels": {"team": "sales"},
                               "description": "Weekly sales report"})
    page.locator(".Toastify__toast", has_text="sales-report failed").first.wait_for(timeout=30_000)
    page.wait_for_timeout(600)  # the toast's entrance animation
    _save(page, f"failure-notification-{theme}")

    # the list: twelve services, grouped by state, the failure expanded
    page.wait_for_function("() => document.querySelectorAll('[data-service]').length === 12", timeout=10_000)
    row = panel.locator('[data-service="sales-report"]')
    if row.locator(".jp-svc-RowDetails").count() == 0:
        row.locator(".jp-svc-RowHeader").click()
    row.locator(".jp-svc-Message").wait_for(timeout=5_000)
    _save(page, f"list-12-{theme}")

    # the logs viewer, searching
    page.locator(".Toastify__toast", has_text="sales-report failed").first.get_by_text("Logs", exact=True).click()
    logs = page.locator('[id="jupyter-svc-logs-sales-report"] .jp-svc-LogView')
    logs.and_(page.locator('[data-process="exited"]')).wait_for(timeout=15_000)
    logs.locator(".jp-svc-LogSearch").fill("DATABASE_URL")
    logs.locator(".jp-svc-LogCount", has_text="/").wait_for(timeout=5_000)
    _dismiss_toasts(page)
    _save(page, f"logs-{theme}")
    _close_main_tabs(page)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, lab_server(Path(tmp)) as lab:
        (lab.root_dir / "dashboard.py").write_text(DASHBOARD)
        _put(lab, "web", {"command": WEB, "labels": {"team": "geo"}, "description": "Files of the root folder",
                          "scale_to_zero": "30m"})
        for i, team in enumerate(TEAMS, start=1):
            _put(lab, f"app{i}", {"command": ["x"], "desired_state": "disabled", "labels": {"team": team},
                                  "description": f"{team} app {i}"})
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{lab.url}lab?token={lab.token}")
                page.wait_for_selector(".jp-Launcher", timeout=30_000)
                page.click(f'.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="{PANEL_ID}"]')
                panel = page.locator(f'[id="{PANEL_ID}"]')
                panel.locator(".jp-svc-Mode-live").wait_for(timeout=15_000)
                panel.locator('.jp-svc-Header [data-action="toggle-view"]').click()
                page.wait_for_selector('[data-service="web"][data-state="ready"]', timeout=30_000)
                shoot(lab, page, "light")
                _theme(page, "JupyterLab Dark")
                shoot(lab, page, "dark")
            finally:
                browser.close()


if __name__ == "__main__":
    main()
