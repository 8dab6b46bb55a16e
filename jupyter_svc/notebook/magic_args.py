"""Text in and out of ``%svc`` and ``jupyter svc``: the one argument tree both parse (one argparse
parser per subcommand), the specs and patches built from it, the help, manifests read from text,
and errors as short messages.

Kept apart from magics.py so that the CLI shares it without IPython, parsing and help can be
tested alone, and a bad argument never becomes a traceback.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from typing import Any, NoReturn

import yaml

from jupyter_svc.client.api_calls import ApiError
from jupyter_svc.model.manifest_yaml import ManifestTooLarge
from jupyter_svc.model.manifest_yaml import safe_load as safe_yaml

from .lifetimes import add_lifetime_options, lifetime_fields
from .templates import Template, registry


class UsageError(Exception):
    """Bad arguments: the message is a short usage text meant to be printed as is."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if self.prog == "%svc" and "invalid choice" in message:
            word = message.split("invalid choice: ", 1)[-1].split(" (choose", 1)[0]
            raise UsageError(f"unknown subcommand {word}: `%svc help` lists them")
        raise UsageError(f"{message}\nusage: {self.format_usage().removeprefix('usage: ').strip()}\n"
                         f"(see `%svc help {self.prog.split()[-1]}`)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or self.format_help())


#: subcommand -> (arguments, what it does, example)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "list": ("[--json]", "all services: state, link, idle window, last activity, restarts", "%svc list"),
    "get": ("NAME [--json]", "one service's spec and status", "%svc get web"),
    "create": ("NAME [options] -- COMMAND...", "create a service running COMMAND ({port}, {base_url} filled in)",
               "%svc create web --idle 5m -- python -m http.server {port} --bind 127.0.0.1"),
    "update": ("NAME --set KEY=VALUE...", "change fields of the spec (dotted keys, YAML values)",
               "%svc update web --set scale_to_zero=10m --set resources.limits.memory=1Gi"),
    "restart": ("NAME", "start a fresh instance", "%svc restart web"),
    "scale": ("NAME N", "run N replicas; 0 scales to zero", "%svc scale web 0"),
    "wake": ("NAME", "start a service that was scaled to zero", "%svc wake web"),
    "stop": ("NAME", "scale to zero (its URL wakes it again)", "%svc stop web"),
    "enable": ("NAME", "allow it to run (and wake) again", "%svc enable web"),
    "disable": ("NAME", "stop it and never wake it until enabled", "%svc disable web"),
    "delete": ("NAME...", "stop them and forget their specs", "%svc delete web"),
    "logs": ("NAME [--tail N] [-f/--follow [--timeout S]]", "what the service printed", "%svc logs web --tail 20"),
    "open": ("NAME", "a clickable link to the service", "%svc open web"),
    "apply": ("-f FILE [--mode merge|replace] [--dry-run]", "apply a YAML/JSON manifest; as %%svc apply "
              "the cell body is the manifest", "%svc apply -f services.yaml --mode replace"),
    "schema": ("[--json]", "fields a spec accepts", "%svc schema"),
    "templates": ("", "the app templates and their parameters", "%svc templates"),
    "connect": ("URL [--token TOKEN]", "talk to this server instead of the one found automatically",
                "%svc connect http://127.0.0.1:8888/ --token abc"),
    "help": ("[SUBCOMMAND]", "this help", "%svc help create"),
}
NAMED = {"get", "create", "update", "restart", "scale", "wake", "stop", "enable", "disable", "delete",
         "logs", "open"}
#: What a subcommand does in a shell (``jupyter svc``) where that differs from a notebook.
IN_A_SHELL = {
    "open": "the service's URL",
    "apply": "apply a YAML/JSON manifest (-f - reads stdin)",
    "connect": 'check this server and print the exports that make later commands use it: '
               'eval "$(jupyter svc connect URL --token TOKEN)"',
}
#: Subcommands of ``jupyter svc`` only: they need no server and mean nothing in a notebook.
SHELL_ONLY: dict[str, tuple[str, str, str]] = {
    "rbac": ("[--namespace NS] [--service-account NAME]",
             "print the RBAC Role the kubernetes backend needs (with a RoleBinding for NAME)",
             "jupyter svc rbac --namespace team-a --service-account jupyter | kubectl apply -f -"),
}
DEFAULT_WAIT = 120.0
MAGIC = "%svc"


def _common(parser: argparse.ArgumentParser, skip: frozenset[str] | set[str] = frozenset(),
            shell: bool = False) -> None:
    """Options every creating subcommand takes; they override the template's fields."""
    parser.add_argument("--port", type=int, help="port the app listens on (default: a free one)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="environment variable")
    if "cwd" not in skip:
        parser.add_argument("--cwd", help="working directory")
    parser.add_argument("--idle", metavar="DURATION", help="scale to zero after this long idle ('5m', 'one_hour')")
    parser.add_argument("--public", action="store_true", help="reachable without Jupyter authentication")
    parser.add_argument("--no-rewrite", action="store_true", help="keep /svc/<name>/ in forwarded paths")
    parser.add_argument("--description", help="shown in lists and launchers")
    parser.add_argument("--readiness", metavar="PATH", help="path probed until the app answers")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any spec field")
    parser.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
                        help=f"wait for the service to settle (default {DEFAULT_WAIT:g}s)")
    parser.add_argument("--no-wait", action="store_true", help="answer at once")
    add_lifetime_options(parser, kernel=not shell)


def _template_parser(sub: Any, template: Template, prog: str, shell: bool) -> None:
    params = {p.name for p in template.params}
    parser = sub.add_parser(template.name, help=template.description, description=template.description,
                            epilog=f"example: {_in(prog, template.example)}" if template.example else None)
    parser.add_argument("name", metavar="NAME")
    for p in template.params:
        if p.kind == "argv":
            continue
        flag = "--" + p.name.replace("_", "-")
        default = f" (default {p.default})" if p.default is not None else ""
        if p.kind == "bool":
            parser.add_argument(flag, dest=p.name, type=_boolean, help=p.help + default)
        else:
            parser.add_argument(flag, dest=p.name, type=int if p.kind == "int" else str, help=p.help + default)
    _common(parser, params, shell)


def _replicas(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"N is a number >= 0 (0 scales to zero), not {text!r}")
    return value


def _boolean(text: str) -> bool:
    value = safe_yaml(text)
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")
    return value


def build_parser(prog: str = MAGIC, shell: bool = False) -> argparse.ArgumentParser:
    """The argument tree of ``%svc`` and, with ``shell``, of ``jupyter svc`` (argparse's own ``-h``,
    usage errors and exit status there; :class:`UsageError` in a kernel)."""
    cls = argparse.ArgumentParser if shell else _Parser
    parser = cls(prog=prog, add_help=shell)
    sub = parser.add_subparsers(dest="command", parser_class=cls, metavar="SUBCOMMAND", required=shell)
    for command, (_, text, example) in COMMANDS.items():
        text = IN_A_SHELL.get(command, text) if shell else text
        p = sub.add_parser(command, help=text, description=text, epilog=f"example: {_in(prog, example)}",
                           add_help=shell)
        if command == "delete":
            p.add_argument("names", nargs="+", metavar="NAME")
        elif command in NAMED:
            p.add_argument("name", metavar="NAME")
        if command in ("get", "schema", "list"):
            p.add_argument("--json", action="store_true", help="the raw JSON")
        elif command == "create":
            _common(p, shell=shell)
            p.add_argument("--shell", action="store_true", help="run COMMAND through /bin/sh -c")
        elif command == "update":
            p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", required=False)
            p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
            p.add_argument("--wait", type=float, default=DEFAULT_WAIT)
            p.add_argument("--no-wait", action="store_true")
        elif command in ("restart", "wake", "enable", "disable", "stop", "scale"):
            if command == "scale":
                p.add_argument("replicas", type=_replicas, metavar="N")
            p.add_argument("--wait", type=float, default=DEFAULT_WAIT)
            p.add_argument("--no-wait", action="store_true")
        elif command == "logs":
            p.add_argument("--tail", type=int, default=100)
            p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (interrupt to stop)")
            p.add_argument("--timeout", type=float, default=None, help="stop following after SECONDS")
        elif command == "apply":
            p.add_argument("-f", "--file", dest="file", help="YAML or JSON manifest")
            p.add_argument("--mode", choices=["merge", "replace"], default="merge",
                           help="replace also deletes the services the manifest does not list")
            p.add_argument("--dry-run", action="store_true")
            p.add_argument("--wait", type=float, default=DEFAULT_WAIT)
        elif command == "connect":
            p.add_argument("url", metavar="URL")
            p.add_argument("--token", default=None)
        elif command == "help":
            p.add_argument("topic", nargs="?", metavar="SUBCOMMAND")
    if shell:
        _shell_only(sub)
    for template in registry.all():
        if template.name not in COMMANDS:
            _template_parser(sub, template, prog, shell)
    return parser


def _shell_only(sub: Any) -> None:
    for command, (_, text, example) in SHELL_ONLY.items():
        p = sub.add_parser(command, help=text, description=text, epilog=f"example: {example}")
        if command == "rbac":
            p.add_argument("--namespace", help="the namespace the services run in (default: kubectl's -n)")
            p.add_argument("--service-account", metavar="NAME",
                           help="add a RoleBinding of the Role to this ServiceAccount (the Jupyter server's)")


def _in(prog: str, example: str) -> str:
    """An example written for ``%svc`` as ``prog`` runs it."""
    return prog + example.removeprefix(MAGIC) if example.startswith(MAGIC) else example


def split_line(line: str) -> tuple[list[str], list[str]]:
    """Arguments before ``--`` and the command after it (kept verbatim, shell-quoted as typed)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot read the arguments: {exc}") from None
    if "--" in words:
        at = words.index("--")
        return words[:at], words[at + 1:]
    return words, []


def parse(line: str) -> tuple[argparse.Namespace, list[str]]:
    args, command = split_line(line)
    if not args:
        return argparse.Namespace(command="help", topic=None), []
    if "-h" in args or "--help" in args:  # `%svc create -h`: the same text as `%svc help create`
        topic = args[0] if args[0] not in ("-h", "--help", "help") else None
        return argparse.Namespace(command="help", topic=topic), []
    return build_parser().parse_args(args), command


def key_values(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} takes KEY=VALUE, not {item!r}")
        out[key] = value
    return out


def merge_patch(sets: Sequence[str]) -> dict[str, Any]:
    """``a.b=1`` -> ``{"a": {"b": 1}}``; values are YAML (``true``, ``[a, b]``, ``null`` removes)."""
    patch: dict[str, Any] = {}
    for key, raw in key_values(sets, "--set").items():
        try:
            value = safe_yaml(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        node = patch
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UsageError(f"--set {key}: {part} is set twice")
        node[leaf] = value
    return patch


def overrides(ns: argparse.Namespace, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """The spec fields that the common options set (``skip``: names a template uses itself)."""
    out: dict[str, Any] = {}
    if ns.port is not None:
        out["port"] = ns.port
    if ns.env:
        out["env"] = key_values(ns.env, "--env")
    if getattr(ns, "cwd", None) and "cwd" not in skip:
        out["cwd"] = ns.cwd
    if ns.idle:
        out["scale_to_zero"] = ns.idle
    if ns.public:
        out["public"] = True
    if ns.no_rewrite:
        out["rewrite_path"] = False
    if ns.description:
        out["description"] = ns.description
    if ns.readiness:
        out["readiness"] = {"path": ns.readiness}
    try:
        out.update(lifetime_fields(ns))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.update(merge_patch(ns.set))
    return out


def wait_of(ns: argparse.Namespace) -> float | None:
    """``--wait`` seconds, or None with ``--no-wait``."""
    return None if getattr(ns, "no_wait", False) else float(ns.wait)


def create_spec(ns: argparse.Namespace, command: Sequence[str], shell_text: str | None = None,
                prog: str = MAGIC) -> dict[str, Any]:
    """``create``'s spec: COMMAND (after ``--``) as argv, or with ``--shell`` the text as typed."""
    if not command:
        raise UsageError(f"create needs the command after --, e.g. "
                         f"{prog} create web -- python -m http.server {{port}} --bind 127.0.0.1")
    text = shell_text or " ".join(command)
    spec: dict[str, Any] = {"name": ns.name, "command": text if ns.shell else list(command)}
    if ns.shell:
        spec["shell"] = True
    spec.update(overrides(ns))
    return spec


def update_patch(ns: argparse.Namespace, prog: str = MAGIC) -> dict[str, Any]:
    """``update``'s merge patch from ``--set`` and ``--env``."""
    patch = merge_patch(ns.set)
    if ns.env:
        patch.setdefault("env", {}).update(key_values(ns.env, "--env"))
    if not patch:
        raise UsageError(f"update needs at least one --set KEY=VALUE (or --env KEY=VALUE)\n"
                         f"usage: {prog} update NAME --set KEY=VALUE...")
    return patch


def template_params(template: Template, ns: argparse.Namespace, command: Sequence[str]) -> dict[str, Any]:
    """A template's parameters from its subcommand's options; an argv one takes COMMAND after ``--``."""
    params = {p.name: getattr(ns, p.name) for p in template.params
              if p.kind != "argv" and getattr(ns, p.name, None) is not None}
    params.update({p.name: list(command) for p in template.params if p.kind == "argv" and command})
    return params


def template_spec(template: Template, name: str, params: dict[str, Any], ns: argparse.Namespace,
                  unix_socket: bool = False) -> dict[str, Any]:
    """The template's spec with the common options on top; a bad parameter is a usage error.
    ``unix_socket``: the server's backend prefers sockets (the template uses one if it can)."""
    try:
        return template.spec_dict(name, params, overrides(ns, {p.name for p in template.params}), unix_socket)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def help_text(topic: str | None = None, prog: str = MAGIC) -> str:
    """The text of ``%svc help`` (and of ``%svc?``); with ``prog`` the shell's, without the cells."""
    magic = prog == MAGIC
    commands = COMMANDS if magic else {**COMMANDS, **SHELL_ONLY}
    if topic:
        if topic in commands:
            args, text, example = commands[topic]
            text = text if magic else IN_A_SHELL.get(topic, text)
            return f"{prog} {topic} {args}\n    {text}\n    example: {_in(prog, example)}"
        try:
            template = registry.get(topic)
        except KeyError:
            raise UsageError(f"no subcommand {topic!r}; `{prog} help` lists them") from None
        flags = " ".join(f"--{p.name.replace('_', '-')} {p.name.upper()}" for p in template.params
                         if p.kind != "argv")
        cell = (f"\n    as a cell: %%svc {template.name} NAME  (the cell is the app's {template.source_file})"
                if template.source_param and magic else "")
        return (f"{prog} {template.name} NAME {flags} [options]\n    {template.description}\n"
                f"    example: {_in(prog, template.example)}{cell}")
    lines = [f"{prog} SUBCOMMAND ...  manage web services of this Jupyter server", ""]
    lines += [f"  {c:<10} {a}\n             {t if magic else IN_A_SHELL.get(c, t)}\n             e.g. {_in(prog, e)}"
              for c, (a, t, e) in commands.items()]
    lines += ["", "Apps from templates (line: give the parameters; cell: the cell is the app's code):" if magic
              else "Apps from templates:"]
    for template in registry.all():
        if template.name not in COMMANDS:
            lines.append(f"  {template.name:<10} {template.description}   e.g. {_in(prog, template.example)}")
    lines += ["", "Options of create and the templates: --idle 5m, --env K=V, --port N, --public, --no-rewrite,",
              "  --description TEXT, --readiness PATH, --set KEY=VALUE, --wait SECONDS, --no-wait."]
    if magic:
        lines += ["%%svc apply (or %%svc alone) applies the YAML/JSON manifest in the cell.",
                  "%%svc streamlit NAME (or panel, dash, gradio, fastapi, bokeh, voila, http) serves the cell."]
    return "\n".join(lines)


def flags_of(subcommand: str) -> list[str]:
    """Option strings of a subcommand, for tab completion."""
    parser = build_parser()
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and subcommand in choices:
            return sorted(o for a in choices[subcommand]._actions for o in a.option_strings)
    return []


def format_error(exc: ApiError) -> str:
    lines = [f"error: {exc.message}"]
    lines += [f"  {e.field}: {e.message}" if e.field else f"  {e.message}" for e in exc.errors]
    return "\n".join(lines)


def load_manifest(text: str, where: str) -> Any:
    try:
        data = safe_yaml(text)
    except ManifestTooLarge as exc:
        raise UsageError(f"{where} is refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise UsageError(f"{where} is not valid YAML or JSON{at}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        raise UsageError(f"{where} is empty: give {{'services': [...]}} or a list of specs")
    return data
