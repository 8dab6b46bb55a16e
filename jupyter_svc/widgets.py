"""``jupyter_svc.widgets``: the documented home of the notebook's ipywidgets."""

from jupyter_svc.notebook.widgets import ServiceBoard, ServiceForm, ServiceRow

__all__ = ["ServiceBoard", "ServiceForm", "ServiceRow"]
