"""A service's lifetime as a notebook states it: bound to this kernel, kept warm, expiring.

``--lifetime kernel`` (the default of ``%%svc`` cells) ties a service to the kernel running the
magic: the server deletes it (or scales it to zero) when that kernel shuts down or restarts. The
kernel knows its id from its connection file (``kernel-<id>.json``, as the Jupyter server names
it) and its notebook from ``JPY_SESSION_NAME``; the server checks that it runs that kernel.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_svc.client.api_calls import ApiError

from .magic_errors import SvcMagicError

_CONNECTION_FILE = re.compile(r"^kernel-(?P<id>[A-Za-z0-9][A-Za-z0-9._-]*)\.json$")
_KEEP_WARM = re.compile(r"^(?P<start>.+?)\s+to\s+(?P<end>.+?)(\s+in\s+(?P<zone>\S+))?$")
NOT_A_SERVER_KERNEL = ("--lifetime kernel: this kernel was not started by the Jupyter server that runs the "
                       "services (a notebook's kernel is); use --lifetime persistent")
KEEP_WARM_HELP = "keep it running from START to END, cron expressions ('0 8 * * 1-5 to 0 18 * * 1-5 in Europe/Paris')"


def add_lifetime_options(parser: argparse.ArgumentParser, kernel: bool = True) -> None:
    """The lifetime options; ``kernel``: those of a notebook's kernel too (not in a shell)."""
    parser.add_argument("--expires", metavar="DURATION", help="delete it this long after its last change ('2h')")
    parser.add_argument("--keep-warm", action="append", default=[], metavar="'START to END [in ZONE]'",
                        help=KEEP_WARM_HELP)
    if not kernel:
        return
    parser.add_argument("--lifetime", choices=["persistent", "kernel"], default=None,
                        help="kernel: deleted when this notebook's kernel shuts down or restarts "
                             "(the default of %%%%svc cells); persistent: until deleted")
    parser.add_argument("--on-kernel-end", choices=["delete", "zero"], default="delete",
                        help="with --lifetime kernel: delete it (default) or scale it to zero")


def keep_warm_window(text: str) -> dict[str, str]:
    """``'0 8 * * 1-5 to 0 18 * * 1-5 in Europe/Paris'`` -> a keep_warm window (the server checks
    the expressions and names the field if one is wrong)."""
    match = _KEEP_WARM.match(" ".join(text.split()))
    if match is None:
        raise ValueError(f"--keep-warm takes 'START to END [in ZONE]', not {text!r}")
    window = {"start": match["start"], "end": match["end"]}
    if match["zone"]:
        window["timezone"] = match["zone"]
    return window


def lifetime_fields(ns: argparse.Namespace) -> dict[str, Any]:
    """The spec fields of ``--expires`` and ``--keep-warm`` (the kernel is bound by :func:`bind`)."""
    out: dict[str, Any] = {}
    if getattr(ns, "expires", None):
        out["expires_after"] = ns.expires
    if getattr(ns, "keep_warm", None):
        out["keep_warm"] = [keep_warm_window(text) for text in ns.keep_warm]
    return out


def this_kernel() -> tuple[str | None, str | None]:
    """This kernel's id, as the Jupyter server that started it knows it, and its notebook's path."""
    try:
        from ipykernel.connect import get_connection_file

        name = Path(get_connection_file()).name
    except Exception:  # not in an ipykernel, or no connection file: no kernel to bind to
        return None, None
    match = _CONNECTION_FILE.match(name)
    return (match["id"] if match else None), (os.environ.get("JPY_SESSION_NAME") or None)


def bind(spec: dict[str, Any], ns: argparse.Namespace, by_default: bool) -> bool:
    """Bind ``spec`` to this kernel when asked (or ``by_default``); True when it was asked for
    explicitly, so that a refusal is the user's error rather than a quiet fallback."""
    explicit = getattr(ns, "lifetime", None) == "kernel"
    if not explicit and not (by_default and getattr(ns, "lifetime", None) is None):
        return False
    kernel_id, notebook = this_kernel()
    if kernel_id is None:
        if explicit:
            raise SvcMagicError(NOT_A_SERVER_KERNEL)
        return False
    on_end = "scale_to_zero" if getattr(ns, "on_kernel_end", "delete") == "zero" else "delete"
    spec["kernel"] = {"id": kernel_id, "on_end": on_end, **({"path": notebook} if notebook else {})}
    return explicit


def bound_call(call: Callable[..., Any], explicit: bool) -> Callable[..., Any]:
    """``call(spec, ...)``; when a default binding is refused (a kernel this server did not start,
    e.g. one run by nbconvert), the service is created without it instead."""
    def run(spec: dict[str, Any], *args: Any) -> Any:
        try:
            return call(spec, *args)
        except ApiError as exc:
            kernel_only = exc.errors and all(e.field.startswith("kernel") for e in exc.errors)
            if explicit or "kernel" not in spec or exc.status_code != 422 or not kernel_only:
                if explicit and kernel_only:
                    raise SvcMagicError(NOT_A_SERVER_KERNEL) from None
                raise
            return call({k: v for k, v in spec.items() if k != "kernel"}, *args)

    return run
