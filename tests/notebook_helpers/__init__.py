"""Helpers for the notebook-side tests: a real `jupyter server` subprocess and nbclient runs."""
