"""The lab panel's command field splits text as ``shlex.split`` does: its jest test reads the
cases in labextension/src/__tests__/argv-cases.json, and this test holds them to shlex itself."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

CASES = json.loads((Path(__file__).resolve().parent.parent / "labextension" / "src" / "__tests__"
                    / "argv-cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("text", "argv"), CASES["split"])
def test_the_fixture_is_what_shlex_splits(text: str, argv: list[str]) -> None:
    assert shlex.split(text) == argv


@pytest.mark.parametrize("text", CASES["errors"])
def test_shlex_refuses_what_the_fixture_says_the_panel_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        shlex.split(text)
