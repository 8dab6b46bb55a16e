"""The embedded default backend: services as local process groups."""

from .backend import LocalBackend, PortAllocator

__all__ = ["LocalBackend", "PortAllocator"]
