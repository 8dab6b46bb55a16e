"""The README's main job: binder/demo.ipynb runs top to bottom in a real kernel on a live server."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from notebook_helpers.fixtures import api, live, run_notebook
from notebook_helpers.server import LiveServer

__all__ = ["live"]  # the fixture, imported for pytest

DEMO = Path(__file__).parent.parent / "binder" / "demo.ipynb"


@pytest.mark.skipif(importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None,
                    reason="the demo's app cell needs fastapi and uvicorn (the demo extra)")
def test_demo_notebook_runs_clean(live: LiveServer, tmp_path: Path) -> None:
    notebook = nbformat.read(DEMO, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    results = run_notebook(live, cells, cwd=tmp_path)
    for result in results:
        assert not result.errors, (result.source, result.errors)
        assert "Traceback" not in result.all and "error:" not in result.all, (result.source, result.all)
    by_source = {r.source.split("\n", 1)[0]: r for r in results}
    assert "files" in by_source["%svc list"].all
    assert "hello" in by_source["%svc stop hello"].all
    office = next(r for r in results if r.source.startswith("%svc create office"))
    assert "kept warm" in office.all or "warm next" in office.all, office.all  # the keep-warm window
    assert "expires in" in office.all, office.all
    code, listing = api(live, "GET", "services")
    assert code == 200 and listing["services"] == []  # the last cell cleaned up


def test_demo_notebook_is_valid_as_saved() -> None:
    """Every cell has an id (nbformat 4.5): a cell added by hand without one makes nbformat warn,
    and a future nbformat refuse the notebook."""
    saved = json.loads(DEMO.read_text())  # as saved: nbformat.read fills in missing ids itself
    missing = ["".join(cell["source"]).split("\n", 1)[0] for cell in saved["cells"] if not cell.get("id")]
    assert not missing, missing
    nbformat.validate(nbformat.from_dict(saved))
