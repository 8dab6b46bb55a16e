"""What `pip install jupyter-svc` brings and what the examples teach (issue 17, part 2).

Read from the sources (pyproject.toml, README, docs, the demo notebook, the magic's help), since
the installed metadata may come from another checkout.
"""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

from jupyter_svc.notebook.magic_args import COMMANDS, help_text
from jupyter_svc.notebook.templates import registry

ROOT = Path(__file__).resolve().parent.parent


def _project() -> dict[str, object]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"])


def _names(requirements: object) -> set[str]:
    assert isinstance(requirements, list)
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_magics_and_widgets_need_no_extra() -> None:
    """`from jupyter_svc.widgets import ServiceForm` and `%load_ext jupyter_svc` after a plain install."""
    assert {"ipython", "ipywidgets"} <= _names(_project()["dependencies"])


def test_the_readmes_cell_examples_run_after_the_demo_install() -> None:
    """Every `%%svc TEMPLATE` the README shows has its framework in the `demo` extra (the first command)."""
    shown = set(re.findall(r"`%%svc (\w+) \w+`", (ROOT / "README.md").read_text()))
    assert shown, "the README shows no %%svc cell"
    extras = _project()["optional-dependencies"]
    assert isinstance(extras, dict)
    demo = _names(extras["demo"])
    for name in shown:
        framework = registry.get(name).framework
        assert framework is None or framework.lower() in demo, (name, framework, sorted(demo))


def _examples() -> list[tuple[str, str]]:
    texts = [(p.relative_to(ROOT).as_posix(), p.read_text()) for p in
             [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "binder" / "demo.ipynb"]]
    texts.append(("%svc help", help_text() + "\n".join(e for _, _, e in COMMANDS.values())))
    texts += [(f"template {t.name}", t.example) for t in registry.all()]
    return texts


def test_examples_bind_to_loopback() -> None:
    """An app on every interface answers without Jupyter's login: the examples bind to 127.0.0.1."""
    loose = []
    for where, text in _examples():
        for line in text.splitlines():
            if re.search(r"http\.server\W+\{port\}", line) and "127.0.0.1" not in line:
                loose.append((where, line.strip()))
            if re.search(r"streamlit\W+run", line) and "--server.port" in line and "127.0.0.1" not in line:
                loose.append((where, line.strip()))
    assert not loose, loose


def test_templates_bind_to_loopback() -> None:
    """Each built-in template's command names the loopback address (the frameworks' defaults do not)."""
    params = {"script": "/tmp/app.py", "notebook": "/tmp/app.ipynb", "logdir": "/tmp", "directory": "/tmp"}
    for template in registry.all():
        if template.name == "command":
            continue
        values = {p.name: params[p.name] for p in template.params if p.name in params}
        command = template.spec_dict("x", values)["command"]
        text = command if isinstance(command, str) else " ".join(command)
        assert "127.0.0.1" in text, (template.name, text)
