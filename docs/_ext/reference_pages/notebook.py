"""The kernel side's reference parts: ``%svc`` subcommands and their options (the magics' own
argparse parsers and table), the built-in app templates, and ``jupyter svc``'s help."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from jupyter_svc import cli
from jupyter_svc.notebook.magic_args import COMMANDS, build_parser
from jupyter_svc.notebook.templates import Param, builtin_templates

from .markdown import code, fenced, label, table, target, text

#: Columns argparse wraps its help at, whatever terminal builds the docs.
HELP_WIDTH = "96"


@contextlib.contextmanager
def _help_width() -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def magics_markdown() -> str:
    rows = [[code(f"%svc {name} {args}".rstrip()), text(what), code(example)]
            for name, (args, what, example) in COMMANDS.items()]
    parts = [table(("subcommand", "what it does", "example"), rows), "", "### Options of each subcommand", "",
             "What `%svc help SUBCOMMAND` and `%svc SUBCOMMAND -h` print, from the same parsers:", ""]
    with _help_width():
        parsers = subparsers(build_parser())
        for name in COMMANDS:
            parts += [target(label("magic", name)), f"#### {code('%svc ' + name)}", "",
                      fenced(parsers[name].format_help()), ""]
    return "\n".join(parts)


def _param_words(param: Param) -> str:
    flag = "-- COMMAND" if param.kind == "argv" else "--" + param.name.replace("_", "-")
    required = " (required)" if param.required else ""
    default = f" (default {code(param.default)})" if param.default is not None else ""
    return f"{code(flag)}{required}: {text(param.help)}{default}"


def templates_markdown() -> str:
    rows = [[code(t.name), text(t.description), "; ".join(_param_words(p) for p in t.params) or "none",
             code(t.source_file) if t.source_param else "no", code(t.framework) if t.framework else "",
             code(t.example)] for t in builtin_templates()]
    return table(("template", "runs", "parameters", "from a cell (file)", "needs module", "example"), rows) + "\n"


def cli_markdown() -> str:
    parser = cli._parser()
    with _help_width():
        parts = [fenced(parser.format_help()), ""]
        for name, sub in subparsers(parser).items():
            parts += [target(label("cli", name)), f"### {code('jupyter svc ' + name)}", "",
                      fenced(sub.format_help()), ""]
    return "\n".join(parts)
