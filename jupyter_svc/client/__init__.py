"""The kernel's side of the REST API: sync and async clients, server discovery."""

from .api_calls import ApiError, ServerNotFound
from .clients import AsyncClient, Client

__all__ = ["ApiError", "AsyncClient", "Client", "ServerNotFound"]
