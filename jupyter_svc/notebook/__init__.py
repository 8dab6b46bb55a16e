"""The notebook side: %svc magics, cell apps (templates), rich display and ipywidgets."""
