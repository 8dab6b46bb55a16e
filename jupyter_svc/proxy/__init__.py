"""The HTTP + WebSocket proxy at ``{base_url}svc/<name>/``: access, wake, forward."""
