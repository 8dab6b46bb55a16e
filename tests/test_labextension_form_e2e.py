"""End to end: the panel's create form in a real Chromium against a real `jupyter lab`.

A data scientist's first service: only a name and a command line typed into the form, every
other field left as shown; it must become `ready` (the server's defaults apply, nothing the form
filled in itself is sent). `Bad_Name` shows the server's reason next to the Name field, focused;
an error in the closed "Advanced" part opens it and scrolls its field into view; the buttons stay
on screen. A template fills in the command and its fields, and the service it makes is ready.
Twelve services list in natural order, with their counts by state and a filter.
Screenshots of the basic and advanced form, light and dark, and of the list go to
$JUPYTER_SVC_SCREENS (default test-artifacts/).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

from notebook_helpers.fixtures import api, fetch
from notebook_helpers.server import LiveServer
from test_labextension_e2e import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, PANEL_ID, lab, sync_playwright

__all__ = ["lab"]  # the fixture, shared with test_labextension_e2e

SCREENS = Path(os.environ.get("JUPYTER_SVC_SCREENS", str(ARTIFACTS)))
COMMAND = shlex.join([sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"])


def _in_view(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900


def _new_form(page: Any) -> Any:
    page.locator(f'[id="{PANEL_ID}"] .jp-svc-Header [data-action="create"]').click()
    form = page.locator(".jp-svc-Form", has_text="New service").last
    form.locator("#root_name").wait_for(timeout=10_000)
    return form


def _close_form(page: Any, form: Any) -> None:
    form.locator("button.jp-mod-reject").click()
    form.wait_for(state="detached", timeout=10_000)


def _dark_theme(page: Any) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
    page.wait_for_selector('body[data-jp-theme-light="false"]', state="attached", timeout=10_000)
    page.keyboard.press("Escape")


def test_form_creates_a_ready_service_from_a_name_and_a_command(lab: LiveServer) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.goto(f"{lab.url}lab?token={lab.token}")
            page.wait_for_selector(".jp-Launcher", timeout=30_000)
            page.click(f'.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="{PANEL_ID}"]')
            panel = page.locator(f'[id="{PANEL_ID}"]')
            panel.locator(".jp-svc-Mode-live").wait_for(timeout=15_000)

            # only a name and a command line
            form = _new_form(page)
            assert form.locator("details.jp-svc-Advanced").get_attribute("open") is None
            assert form.locator("#root_image").count() == 0  # the local backend cannot run images
            form.locator("#root_name").fill("web")
            form.locator("#root_command").fill(COMMAND)
            args = form.locator(".jp-svc-Arg")
            assert args.all_inner_texts() == shlex.split(COMMAND)
            page.screenshot(path=str(SCREENS / "form-basic-light.png"))
            form.locator("details.jp-svc-Advanced > summary").click()
            form.locator("#root_readiness_path").wait_for(state="visible")
            page.screenshot(path=str(SCREENS / "form-advanced-light.png"))
            assert _in_view(page, '.jp-svc-Form [data-action="save"]'), "the buttons scrolled away"
            form.locator('[data-action="save"]').click()
            form.wait_for(state="detached", timeout=10_000)
            page.wait_for_selector('[data-service="web"] .jp-svc-Badge[data-state="ready"]', timeout=30_000)
            spec = api(lab, "GET", "services/web")[1]["spec"]
            assert spec["command"] == shlex.split(COMMAND)
            assert spec["readiness"]["statuses"] is None and spec["port"] == 0 and spec["scale_to_zero"] is None

            # an invalid name: the server's reason next to the Name field, which takes the focus
            status, body = fetch(lab, "svc/api/services/Bad_Name")
            assert status == 422 and '"field": "name"' in body, body
            form = _new_form(page)
            form.locator("#root_name").fill("Bad_Name")
            form.locator("#root_command").fill("python3 -V")
            form.locator('[data-action="save"]').click()
            name_group = form.locator('.jp-svc-Field[data-field="name"]')
            name_group.locator(".validationErrors", has_text="DNS-1123").wait_for(timeout=10_000)
            page.wait_for_function("() => document.activeElement && document.activeElement.id === 'root_name'")

            # an error deep in the closed Advanced part opens it and scrolls its field into view
            form.locator("#root_name").fill("late")
            form.locator("details.jp-svc-Advanced > summary").click()
            form.locator("#root_readiness_interval").fill("soon")
            form.locator("details.jp-svc-Advanced > summary").click()  # closed again
            form.locator('[data-action="save"]').click()
            form.locator(".form-group", has=page.locator("#root_readiness_interval")).last.locator(
                ".validationErrors", has_text="not a duration").wait_for(timeout=10_000)
            page.wait_for_function(
                "() => document.activeElement && document.activeElement.id === 'root_readiness_interval'")
            assert _in_view(page, "#root_readiness_interval"), "the first error is out of sight"
            assert _in_view(page, '.jp-svc-Form [data-action="save"]'), "the buttons scrolled away"
            assert api(lab, "GET", "services/late")[0] == 404
            _close_form(page, form)

            # from a template: its parameters shown, the command and its fields filled in by the server
            form = _new_form(page)
            form.locator("#root_template").select_option("http")
            directory = form.locator("#root_template_directory")
            directory.wait_for(timeout=5_000)
            assert directory.input_value() == "."
            page.wait_for_function("() => document.querySelector('#root_command').value.includes('http.server')",
                                   timeout=10_000)
            form.locator("#root_name").fill("site")
            form.locator('[data-action="save"]').click()
            form.wait_for(state="detached", timeout=10_000)
            page.wait_for_selector('[data-service="site"] .jp-svc-Badge[data-state="ready"]', timeout=30_000)
            spec = api(lab, "GET", "services/site")[1]["spec"]
            assert spec["labels"] == {"jupyter-svc/template": "http"}
            assert spec["command"][1:4] == ["-m", "http.server", "{port}"]
            assert spec["command"][-2:] == ["--directory", str(lab.root_dir)], spec["command"]
            assert api(lab, "DELETE", "services/site")[0] == 204

            # the same form in the dark theme
            _dark_theme(page)
            form = _new_form(page)
            form.locator("#root_name").fill("web2")
            form.locator("#root_command").fill(COMMAND)
            page.screenshot(path=str(SCREENS / "form-basic-dark.png"))
            form.locator("details.jp-svc-Advanced > summary").click()
            page.screenshot(path=str(SCREENS / "form-advanced-dark.png"))
            _close_form(page, form)

            # twelve services: natural order, counts by state, a filter
            for i in range(1, 12):
                assert api(lab, "PUT", f"services/s{i}", {"command": ["x"], "desired_state": "disabled"})[0] in (
                    200, 201, 202)
            shown = "() => [...document.querySelectorAll('[data-service]')].map(e => e.dataset.service)"
            page.wait_for_function(f"() => ({shown})().length === 12", timeout=10_000)
            # grouped by state (the default): ready before disabled, natural order in each
            assert page.evaluate(shown) == ["web"] + [f"s{i}" for i in range(1, 12)]
            page.wait_for_function(
                "() => document.querySelector('.jp-svc-Count[data-state=\"disabled\"]')?.textContent === '11 disabled'",
                timeout=10_000)
            page.screenshot(path=str(SCREENS / "list-12-dark.png"))
            panel.locator(".jp-svc-Filter").fill("s1")
            page.wait_for_function(f"() => ({shown})().join() === 's1,s10,s11'", timeout=10_000)
        finally:
            browser.close()
    # Chromium logs each answer >= 400: the two 422s above are on purpose
    expected = "Failed to load resource: the server responded with a status of 422"
    assert len([e for e in errors if expected in e]) == 2, errors
    errors = [e for e in errors if expected not in e]
    assert not errors, "console errors in JupyterLab:\n" + "\n".join(errors)
