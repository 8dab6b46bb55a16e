"""Backends turn a spec into running instances."""

from .base import Backend, Endpoint, Instance, LaunchContext

__all__ = ["Backend", "Endpoint", "Instance", "LaunchContext"]
