"""Services over backends: desired state, lifecycle, readiness, persistence, activity, metrics."""
