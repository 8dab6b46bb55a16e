"""The configuration reference, from the traitlets themselves: every ``Configurable`` class in
the package and each option it defines (``config=True``), with type, default and help, in the
order the class declares them. A new option or class appears here without touching the docs."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from traitlets import Container, TraitType
from traitlets.config import Configurable

import jupyter_svc

from .markdown import code, label, target, text


def configurables() -> list[type[Configurable]]:
    """Every class of the package with options of its own, in module order."""
    found: dict[str, type[Configurable]] = {}
    for module in pkgutil.walk_packages(jupyter_svc.__path__, "jupyter_svc."):
        loaded = importlib.import_module(module.name)
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if (issubclass(cls, Configurable) and cls.__module__ == loaded.__name__
                    and cls.class_own_traits(config=True)):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[key] for key in sorted(found)]


def options(cls: type[Configurable]) -> list[TraitType[Any, Any]]:
    """The class's own options in declaration order (traitlets itself sorts them by name)."""
    own = cls.class_own_traits(config=True)
    declared = [name for name in vars(cls) if name in own]
    return [own[name] for name in declared + sorted(set(own) - set(declared))]


def type_name(trait: TraitType[Any, Any]) -> str:
    """``Float``, ``List(Unicode)``, ``Tuple(Int, Int)``: the trait as one writes it."""
    name = type(trait).__name__
    inner = getattr(trait, "_traits", None) or ([trait._trait] if isinstance(trait, Container)
                                                 and getattr(trait, "_trait", None) else [])
    return f"{name}({', '.join(type_name(t) for t in inner)})" if inner else name


def default_words(cls: type[Configurable], trait: TraitType[Any, Any]) -> str:
    if trait.name in getattr(cls, "_trait_default_generators", {}):
        return "computed at start-up (see the description)"
    return code(trait.default_value_repr())


def option_label(cls: type[Configurable], trait: TraitType[Any, Any]) -> str:
    return label("config", cls.__name__, trait.name or "")


def config_markdown() -> str:
    parts: list[str] = []
    for cls in configurables():
        summary = (inspect.getdoc(cls) or "").split("\n\n", 1)[0]
        parts += [target(label("config", cls.__name__)), f"## {cls.__name__}", "",
                  f"{text(summary)} ({code(f'{cls.__module__}.{cls.__qualname__}')})", "",
                  f"In {code('jupyter_server_config.py')}: {code(f'c.{cls.__name__}.OPTION = value')}; "
                  f"on the command line of {code('jupyter lab')} or {code('jupyter server')}: "
                  f"{code(f'--{cls.__name__}.OPTION=value')}.", ""]
        for trait in options(cls):
            parts += [target(option_label(cls, trait)), f"### {code(trait.name)}", "",
                      f"{text(trait.help or 'No description.')}", "",
                      f"- type: {code(type_name(trait))}",
                      f"- default: {default_words(cls, trait)}",
                      f"- set: {code(f'c.{cls.__name__}.{trait.name} = ...')} or "
                      f"{code(f'--{cls.__name__}.{trait.name}=...')}", ""]
    return "\n".join(parts)
