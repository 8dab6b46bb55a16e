"""YAML for manifests and option values, loaded with limits: anchors and aliases are fine, an
alias bomb is not.

PyYAML builds ``*alias`` as a shared reference, so a "billion laughs" document loads small and
then explodes when it is walked or sent as JSON (one grew to 1.3 GB). The loader counts aliases as
it composes, and the loaded value is measured as JSON would spell it out, within a budget.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Aliases one document may use.
MAX_ALIASES = 1000
#: Values (mappings, lists, scalars) the document may hold once aliases are spelled out.
MAX_EXPANDED_VALUES = 100_000


class ManifestTooLarge(yaml.YAMLError):
    """The document uses too many aliases, or spells out to too many values (an alias bomb)."""


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise ManifestTooLarge(f"more than {MAX_ALIASES} aliases (*name): refused as an alias bomb")
        return super().compose_node(parent, index)


def _check_expanded_size(data: Any) -> None:
    stack, count = [data], 0
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_EXPANDED_VALUES:
            raise ManifestTooLarge(f"spells out to more than {MAX_EXPANDED_VALUES} values once its aliases "
                                   "are expanded: refused as an alias bomb")
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with the limits above; ManifestTooLarge (a YAMLError) past them."""
    loader = _BoundedLoader(text)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    _check_expanded_size(data)
    return data
