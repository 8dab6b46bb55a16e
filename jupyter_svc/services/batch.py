"""Batches: a manifest of specs, validated whole, then applied side by side."""

from __future__ import annotations

import asyncio

from jupyter_svc.model.errors import FieldError, SpecInvalid
from jupyter_svc.model.spec import ApplyMode, Manifest

from .manager import Operation, ServiceManager
from .validation import check_cycles


async def apply_manifest(manager: ServiceManager, manifest: Manifest, mode: ApplyMode, dry_run: bool = False,
                         wait: float = 0) -> list[dict[str, str]]:
    """Validate every entry and apply nothing if one is invalid; then apply all, side by side."""
    present = {n: s for n, s in manager.services.items() if not s.deleted}  # not those being deleted
    known = set(present) | {s.name for s in manifest.services}
    listed = {s.name for s in manifest.services}
    doomed = sorted(set(present) - listed) if mode is ApplyMode.replace else []
    errors: list[FieldError] = []
    for i, spec in enumerate(manifest.services):
        try:
            manager.validate(spec, known - set(doomed), prefix=f"services[{i}]")
        except SpecInvalid as exc:
            errors += exc.errors
        errors += await manager.check_url(spec, prefix=f"services[{i}]")
    final = {n: s.spec for n, s in present.items() if n not in doomed}
    final |= {s.name: s for s in manifest.services}
    for name in doomed:
        users = [n for n, s in final.items() if name in s.depends_on]
        if users:
            errors.append(FieldError("services", f"{name!r} would be deleted but {users[0]!r} needs it"))
    if errors:
        raise SpecInvalid("manifest rejected; nothing was applied", errors)
    check_cycles(final)
    results: list[dict[str, str]] = []
    operations: list[tuple[dict[str, str], Operation]] = []
    for spec in manifest.services:
        current = manager.services.get(spec.name)
        action = "created" if current is None else ("unchanged" if current.spec == spec else "updated")
        result = {"name": spec.name, "action": action, "message": ""}
        results.append(result)
        if not dry_run and action != "unchanged":
            operations.append((result, (await manager.create_or_update(spec))[0]))
    for name in doomed:
        if not dry_run:
            await manager.delete(name)
        results.append({"name": name, "action": "deleted", "message": ""})
    if wait:
        done = await asyncio.gather(*(manager.wait_settled(op, wait) for _, op in operations),
                                    return_exceptions=True)
        for (result, _), outcome in zip(operations, done, strict=True):
            if isinstance(outcome, BaseException):
                result.update(action="failed", message=str(outcome))
    return results
