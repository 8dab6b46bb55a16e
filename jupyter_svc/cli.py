"""``jupyter svc``: the subcommands of ``%svc`` from a shell, finding the server like ``jupyter server list``.

The argument tree is the magic's (:func:`~jupyter_svc.notebook.magic_args.build_parser`), so both
accept the same subcommands and options; only the cell forms (``%%svc``) are the notebook's own.
Exit codes: 0 done, 1 the operation failed (or a service it touched failed), 2 bad usage,
3 no reachable server with jupyter-svc, 4 no such service. Results go to stdout, errors to stderr.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from jupyter_svc.client.api_calls import ApiError, ServerNotFound
from jupyter_svc.client.clients import Client
from jupyter_svc.model.status import ServiceView
from jupyter_svc.notebook.display import ApplyTable, ServiceCard, ServiceTable, schema_table, templates_table
from jupyter_svc.notebook.magic_args import (
    UsageError,
    build_parser,
    create_spec,
    help_text,
    load_manifest,
    template_params,
    template_spec,
    update_patch,
    wait_of,
)
from jupyter_svc.notebook.templates import registry

OK, FAILED, USAGE, NO_SERVER, NO_SERVICE = 0, 1, 2, 3, 4
PROG = "jupyter svc"


def _parser() -> argparse.ArgumentParser:
    parser = build_parser(PROG, shell=True)
    parser.description = "Manage jupyter-svc web services: the subcommands of %svc, from a shell."
    parser.epilog = "exit codes: 0 ok, 1 failed, 2 usage, 3 no server, 4 no such service"
    parser.add_argument("--url", dest="server_url",
                        help="server URL with base_url (default: found like `jupyter server list`)")
    parser.add_argument("--token", dest="server_token",
                        help="server token (default: from the environment or runtime file)")
    return parser


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Arguments before the first ``--`` and the service's command after it."""
    words = list(argv)
    if "--" in words:
        at = words.index("--")
        return words[:at], words[at + 1:]
    return words, []


def _error(message: str) -> None:
    print(f"jupyter svc: {message}", file=sys.stderr)


def _card(client: Client, view: ServiceView) -> int:
    """The service's state and link (and its last log lines if it failed): exit 1 if it failed."""
    failed = view.status.state.value == "failed"
    card = ServiceCard(view, client.link(view), client.logs(view.name, 20) if failed else "")
    print(repr(card))
    return FAILED if card.failed else OK


def _list(client: Client, args: argparse.Namespace) -> int:
    views = client.list()
    print(json.dumps([v.model_dump(mode="json") for v in views], indent=2) if args.json
          else repr(ServiceTable(views, client.link)))
    return OK


def _get(client: Client, args: argparse.Namespace) -> int:
    view = client.get(args.name)
    if args.json:
        print(view.model_dump_json(indent=2))
    else:
        print(repr(ServiceCard(view, client.link(view))))
        print(yaml.safe_dump(view.spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False).rstrip())
    return OK


def _apply(client: Client, args: argparse.Namespace) -> int:
    if not args.file:
        raise UsageError("apply needs -f FILE ('-' reads stdin)")
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).expanduser().read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    manifest = load_manifest(text, "stdin" if args.file == "-" else args.file)
    report = client.apply(manifest, args.mode, args.dry_run, None if args.dry_run else args.wait)
    print(repr(ApplyTable(report)))
    return OK if report.ok else FAILED


def _delete(client: Client, args: argparse.Namespace) -> int:
    for name in args.names:
        client.delete(name)
        print(f"deleted {name}")
    return OK


def _logs(client: Client, args: argparse.Namespace) -> int:
    if args.follow:
        for line in client.follow_logs(args.name, args.tail, timeout=args.timeout, container=args.container):
            print(line, flush=True)
    else:
        sys.stdout.write(client.logs(args.name, args.tail, container=args.container))
    return OK


def _connect(client: Client, args: argparse.Namespace) -> int:
    """Checks the server, then prints what makes a shell use it (``eval "$(jupyter svc connect ...)"``)."""
    there = Client(args.url, args.token or args.server_token)
    there.list()
    print(f"# jupyter-svc answers at {there.server.url}")
    print(f"export JUPYTER_SVC_URL={shlex.quote(there.server.url)}")
    print(f"export JUPYTER_SVC_TOKEN={shlex.quote(there.server.token)}")
    return OK


def _print(text: str) -> int:
    print(text)
    return OK


#: The Kubernetes backend's Role, read as the package's data: the kernel's side imports no backend.
RBAC_FILE = ("backends", "kubernetes", "rbac.yaml")


def rbac_text(namespace: str | None = None, service_account: str | None = None) -> str:
    """The shipped Role as is (comments say why each rule is there); with a namespace or a
    ServiceAccount, as YAML documents with the namespace set and a RoleBinding to that account."""
    text = resources.files("jupyter_svc").joinpath(*RBAC_FILE).read_text()
    if namespace is None and service_account is None:
        return text.rstrip()
    role: dict[str, Any] = yaml.safe_load(text)
    if namespace:
        role["metadata"]["namespace"] = namespace
    documents = [role]
    if service_account:
        if not namespace:
            raise UsageError("rbac --service-account needs --namespace: the RoleBinding names the account's namespace")
        subject = {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}
        documents.append({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {**role["metadata"], "name": f"{role['metadata']['name']}-{service_account}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]},
            "subjects": [subject],
        })
    return yaml.safe_dump_all(documents, sort_keys=False).rstrip()


Handler = Callable[[Client, argparse.Namespace], int]
HANDLERS: dict[str, Handler] = {
    "list": _list, "get": _get, "apply": _apply, "delete": _delete, "logs": _logs, "connect": _connect,
    "update": lambda c, a: _card(c, c.update(a.name, update_patch(a, PROG), wait_of(a))),
    "restart": lambda c, a: _card(c, c.restart(a.name, wait_of(a))),
    "wake": lambda c, a: _card(c, c.wake(a.name, wait_of(a))),
    "stop": lambda c, a: _card(c, c.stop(a.name, wait_of(a))),
    "enable": lambda c, a: _card(c, c.enable(a.name, wait_of(a))),
    "disable": lambda c, a: _card(c, c.disable(a.name, wait_of(a))),
    "scale": lambda c, a: _card(c, c.scale(a.name, a.replicas, wait_of(a))),
    "open": lambda c, a: _print(c.link(c.get(a.name))),
    "schema": lambda c, a: _print(json.dumps(c.schema(), indent=2) if a.json else schema_table(c.schema())),
    "templates": lambda c, a: _print(templates_table(registry.all())),
    "help": lambda c, a: _print(help_text(a.topic, PROG)),
}


def _run(client: Client, args: argparse.Namespace, command: list[str]) -> int:
    if args.command == "create":
        return _card(client, client.create(create_spec(args, command, prog=PROG), wait_of(args)))
    if args.command in HANDLERS:
        return HANDLERS[args.command](client, args)
    template = registry.get(args.command)
    spec = template_spec(template, args.name, template_params(template, args, command), args)
    return _card(client, client.put(spec, wait_of(args)))


def main(argv: Sequence[str] | None = None) -> int:
    words, command = split_argv(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(words)  # exits with 2 and a usage line on bad arguments
    try:
        if args.command == "rbac":  # needs no server
            return _print(rbac_text(args.namespace, args.service_account))
        return _run(Client(args.server_url, args.server_token), args, command)
    except UsageError as exc:
        _error(str(exc).rstrip())
        return USAGE
    except ServerNotFound as exc:
        _error(exc.message)
        return NO_SERVER
    except ApiError as exc:
        _error(str(exc))
        return NO_SERVICE if exc.status_code == 404 else FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `jupyter svc logs x | head`
        return OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
