"""Apps served from a ``%%svc TEMPLATE NAME`` cell: the cell's file, and the folder it lives in.

The cell is written to ``.jupyter-svc/<name>/`` beside the notebook (the kernel's working
directory); the spec records that folder in an annotation, so that ``%svc delete`` removes it
from any notebook, and only a folder of that exact shape.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_svc.model.status import ServiceView

from .templates import Template

#: Where ``%%svc TEMPLATE NAME`` writes the cell, relative to the kernel's working directory.
CELL_DIR = ".jupyter-svc"
#: The spec annotation that names the cell's folder.
CELL_FOLDER = "jupyter-svc/cell-folder"


@dataclass(frozen=True)
class CellFile:
    """The file a cell was written to, and whether this run changed it."""

    folder: Path
    path: Path
    changed: bool


def write_cell(template: Template, name: str, cell: str) -> CellFile:
    """Write the cell as the template's source file, beside the notebook."""
    folder = Path.cwd() / CELL_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / template.source_file
    old = path.read_text() if path.exists() else None
    new = cell_source(cell, template)
    path.write_text(new)
    return CellFile(folder, path, old is not None and old != new)


def cell_folder_of(view: ServiceView) -> Path | None:
    """The cell folder of a service made from a cell; None for any other (or a tampered) spec."""
    recorded = view.spec.annotations.get(CELL_FOLDER)
    if not recorded:
        return None
    folder = Path(recorded)
    if not folder.is_absolute() or folder.name != view.name or folder.parent.name != CELL_DIR:
        return None
    return folder


def remove_cell_folder(view: ServiceView) -> Path | None:
    """Remove the folder a cell app was written to; the folder, or None if there was none."""
    folder = cell_folder_of(view)
    if folder is None or not folder.is_dir():
        return None
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def cell_source(cell: str, template: Template) -> str:
    if not template.source_file.endswith(".ipynb"):
        return cell if cell.endswith("\n") else cell + "\n"
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return str(nbformat.writes(notebook))


def annotations_for(cell: CellFile) -> dict[str, Any]:
    return {CELL_FOLDER: str(cell.folder)}
