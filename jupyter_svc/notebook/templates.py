"""Templates, where the kernel's side has always imported them from.

They live in :mod:`jupyter_svc.model.templates` (the server lists and fills them in too, for the
lab panel's template picker); a plugin's ``from jupyter_svc.notebook.templates import Template``
gets the same class.
"""

from __future__ import annotations

from jupyter_svc.model.templates import (
    ENTRY_POINT_GROUP,
    Builder,
    Param,
    Registry,
    Template,
    builtin_templates,
    get_template,
    registry,
    template_names,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Builder",
    "Param",
    "Registry",
    "Template",
    "builtin_templates",
    "get_template",
    "registry",
    "template_names",
]
