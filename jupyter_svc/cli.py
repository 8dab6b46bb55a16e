"""``jupyter svc``: the REST API from a shell, finding the server like ``jupyter server list``.

Exit codes: 0 done, 1 the operation failed (or an applied service failed), 2 bad usage,
3 no reachable server with jupyter-svc, 4 no such service. Results go to stdout, errors to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from jupyter_svc.client.api_calls import ApiError, ServerNotFound
from jupyter_svc.client.clients import Client
from jupyter_svc.notebook.display import ApplyTable, ServiceCard, ServiceTable

OK, FAILED, USAGE, NO_SERVER, NO_SERVICE = 0, 1, 2, 3, 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter svc", description="Manage jupyter-svc web services.",
                                     epilog="exit codes: 0 ok, 1 failed, 2 usage, 3 no server, 4 no such service")
    parser.add_argument("--url", help="server URL with base_url (default: found like `jupyter server list`)")
    parser.add_argument("--token", help="server token (default: from the environment or runtime file)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("list", help="all services")
    p.add_argument("--json", action="store_true", help="ServiceView JSON")
    p = sub.add_parser("get", help="one service's spec and status")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("apply", help="apply a YAML/JSON manifest")
    p.add_argument("-f", "--file", required=True, help="manifest file, '-' for stdin")
    p.add_argument("--mode", choices=["merge", "replace"], default="merge",
                   help="replace also deletes services the manifest does not list")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the services to settle")
    p = sub.add_parser("delete", help="delete services")
    p.add_argument("names", nargs="+", metavar="NAME")
    for action, text in (("restart", "start a fresh instance"), ("wake", "start a scaled-to-zero service"),
                         ("stop", "scale to zero"), ("enable", "allow it to run"), ("disable", "stop it for good")):
        p = sub.add_parser(action, help=text)
        p.add_argument("name")
        p.add_argument("--wait", type=float, default=120.0)
    p = sub.add_parser("scale", help="set replicas; 0 scales to zero")
    p.add_argument("name")
    p.add_argument("replicas", type=int)
    p.add_argument("--wait", type=float, default=120.0)
    p = sub.add_parser("logs", help="what a service printed")
    p.add_argument("name")
    p.add_argument("--tail", type=int, default=100)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    return parser


def _error(message: str) -> None:
    print(f"jupyter svc: {message}", file=sys.stderr)


def _run(args: argparse.Namespace, client: Client) -> int:
    command = args.command
    if command == "list":
        views = client.list()
        print(json.dumps([v.model_dump(mode="json") for v in views], indent=2) if args.json
              else repr(ServiceTable(views, client.link)))
    elif command == "get":
        view = client.get(args.name)
        if args.json:
            print(view.model_dump_json(indent=2))
        else:
            print(repr(ServiceCard(view, client.link(view))))
            print(yaml.safe_dump(view.spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False).rstrip())
    elif command == "apply":
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
            manifest = yaml.safe_load(text)
        except OSError as exc:
            _error(f"cannot read {args.file}: {exc.strerror or exc}")
            return USAGE
        except yaml.YAMLError as exc:
            _error(f"{args.file} is not valid YAML or JSON: {exc}")
            return USAGE
        report = client.apply(manifest, args.mode, args.dry_run, None if args.dry_run else args.wait)
        print(repr(ApplyTable(report)))
        return OK if report.ok else FAILED
    elif command == "delete":
        for name in args.names:
            client.delete(name)
            print(f"deleted {name}")
    elif command == "logs":
        if args.follow:
            for line in client.follow_logs(args.name, args.tail):
                print(line, flush=True)
        else:
            sys.stdout.write(client.logs(args.name, args.tail))
    else:
        call = getattr(client, command)
        view = call(args.name, args.replicas, args.wait) if command == "scale" else call(args.name, args.wait)
        card = ServiceCard(view, client.link(view), client.logs(view.name, 20) if view.status.state.value == "failed"
                           else "")
        print(repr(card))
        return FAILED if card.failed else OK
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # exits with 2 and a usage line on bad arguments
    try:
        return _run(args, Client(args.url, args.token))
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
