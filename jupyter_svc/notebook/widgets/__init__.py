"""ipywidgets for services: a schema-generated create/edit form and a live board."""

from .board import ServiceBoard, ServiceRow
from .form import ServiceForm

__all__ = ["ServiceBoard", "ServiceForm", "ServiceRow"]
