#!/usr/bin/env python
"""jupyter-svc benchmarks: direct (nginx) vs jupyter-svc vs jupyter-server-proxy, one interleaved run.

Usage:  python benchmarks/run.py [--rounds 3] [--duration 5] [--profile DIR] [--no-readme]

What it starts (all on 127.0.0.1, all stopped at the end, also on failure):
  * nginx (Debian's nginx-light) serving 1 KiB and 1 MiB files: the "direct" backend;
  * jupyter server A with jupyter_svc only: an external service ``nginx`` -> the nginx above,
    a local-process service ``web`` (tests/apps/web_app.py: /ws echo, /download?size=N) and a
    local-process services ``cold-nginx`` and ``cold-web`` for the cold-start measurements
    (benchmarks/coldstart.py); it also loads ``benchmarks/ceiling_ext.py``: bare handlers that
    show the fastest any handler of that server can answer;
  * ``benchmarks/tcp_relay.py`` in front of nginx and of web_app: the fastest a Python relay with
    no HTTP at all can forward (ceilings, not competitors);
  * jupyter server B with jupyter_server_proxy only (from benchmarks/.venv, created on first run
    so that jupyter-server-proxy never enters the package's own environment), reaching the same
    nginx and the same web_app instance through its ``/proxy/<port>/`` route.

Also a third jupyter-svc server, started again and again on one state folder, for the first request
after a restart (benchmarks/restart.py).

Results: benchmarks/results.json (raw) and benchmarks/README.md (table, targets met / not met).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import coldstart
import psutil
import restart
from clients import api, download, ws_echo
from harness import (
    CEILINGS,
    HERE,
    TARGETS,
    WEB_APP,
    WRK_LUA,
    GiB,
    MiB,
    Procs,
    PySpy,
    RssSampler,
    ensure_venv,
    free_port,
    log,
    median,
    pct,
    run_wrk,
    start_jupyter,
    start_nginx,
    summarize_stacks,
    wait_http,
)
from report import machine, summarize, write_readme


# ---------------------------------------------------------------------------------------------- the run
async def bench(args: argparse.Namespace, procs: Procs, tmp: Path) -> dict[str, Any]:
    token = os.urandom(16).hex()
    auth = {"Authorization": f"token {token}"}
    jsp_python = str(ensure_venv())
    nginx_port = start_nginx(procs, tmp)
    log(f"nginx on {nginx_port}")
    os.environ["JUPYTER_SVC_BENCH_NGINX"] = str(nginx_port)  # ceiling_ext's hop handler forwards there
    svc_port, svc_proc = start_jupyter(
        procs, tmp, "server-svc", sys.executable, token,
        {"jupyter_svc": True, "jupyter_server_proxy": False, "ceiling_ext": True},
        [f"--SvcExtension.state_dir={tmp / 'svc-state'}"], pythonpath=str(HERE))
    jsp_port, jsp_proc = start_jupyter(
        procs, tmp, "server-jsp", jsp_python, token, {"jupyter_server_proxy": True, "jupyter_svc": False}, [])
    log(f"jupyter server with jupyter-svc on {svc_port} (pid {svc_proc.pid}), "
        f"with jupyter-server-proxy on {jsp_port} (pid {jsp_proc.pid})")
    svc_base = f"http://127.0.0.1:{svc_port}/"
    jsp_base = f"http://127.0.0.1:{jsp_port}/"
    results: dict[str, Any] = {"ports": {"nginx": nginx_port, "svc": svc_port, "jsp": jsp_port}}

    web_cmd = [sys.executable, str(WEB_APP), "{port}"]
    async with aiohttp.ClientSession(headers=auth) as session:
        for spec in ({"name": "nginx", "url": f"http://127.0.0.1:{nginx_port}"},
                     {"name": "web", "command": web_cmd}):
            code, view = await api(session, svc_base, "POST", "services", spec, wait=60)
            assert code == 201 and view["status"]["state"] == "ready", (code, view)
        _, web = await api(session, svc_base, "GET", "services/web")
    web_port = int(web["status"]["endpoint"].rsplit(":", 1)[1].strip("/"))
    log(f"services registered; web_app instance on {web_port}")
    procs.remember_children()
    relay_port, relay_ws_port = free_port(), free_port()
    relay = procs.start("relay", [sys.executable, str(HERE / "tcp_relay.py"), str(relay_port), str(nginx_port)],
                        tmp / "relay.log")
    procs.start("relay-ws", [sys.executable, str(HERE / "tcp_relay.py"), str(relay_ws_port),
                                        str(web_port)], tmp / "relay-ws.log")
    wait_http(f"http://127.0.0.1:{relay_port}/1k.bin", timeout=10)

    urls = {size: {"direct": f"http://127.0.0.1:{nginx_port}/{size}.bin", "svc": f"{svc_base}svc/nginx/{size}.bin",
                   "jsp": f"{jsp_base}proxy/{nginx_port}/{size}.bin", "plain": f"{svc_base}bench/plain/{size}",
                   "auth": f"{svc_base}bench/auth/{size}", "hop": f"{svc_base}bench/hop/{size}",
                   "authhop": f"{svc_base}bench/authhop/{size}", "splicehop": f"{svc_base}bench/splicehop/{size}",
                   "relay": f"http://127.0.0.1:{relay_port}/{size}.bin"}
            for size in ("1k", "1m")}
    urls = {size: {t: url for t, url in by_target.items() if t in (*TARGETS, *CEILINGS[size])}
            for size, by_target in urls.items()}
    ws_urls = {"direct": f"ws://127.0.0.1:{web_port}/ws", "svc": f"ws://127.0.0.1:{svc_port}/svc/web/ws",
               "jsp": f"ws://127.0.0.1:{jsp_port}/proxy/{web_port}/ws", "relay": f"ws://127.0.0.1:{relay_ws_port}/ws"}
    # sanity: every proxy route serves nginx's bytes; the ceiling handlers serve as many bytes of their own
    for size, by_target in urls.items():
        bodies: dict[str, bytes] = {}
        for target, url in by_target.items():
            with urllib.request.urlopen(urllib.request.Request(url, headers=auth), timeout=30) as r:
                assert r.status == 200, (target, url, r.status)
                bodies[target] = r.read()
        relayed = {bodies[t] for t in (*TARGETS, "relay", "hop", "authhop", "splicehop") if t in bodies}
        assert len(relayed) == 1, f"{size}: routes serve different bodies"
        assert len({len(b) for b in bodies.values()}) == 1, f"{size}: ceiling bodies differ in size"

    nginx_proc = next(p for n, p in procs.procs if n == "nginx")
    cpu_pids = {"direct": [c.pid for c in psutil.Process(nginx_proc.pid).children()] or [nginx_proc.pid],
                "svc": [svc_proc.pid], "jsp": [jsp_proc.pid], "plain": [svc_proc.pid], "auth": [svc_proc.pid],
                "hop": [svc_proc.pid], "authhop": [svc_proc.pid], "splicehop": [svc_proc.pid],
                "relay": [relay.pid]}
    http_targets = {size: (*TARGETS, *CEILINGS[size]) for size in ("1k", "1m")}
    ws_targets = (*TARGETS, "relay")
    lua = tmp / "report.lua"
    lua.write_text(WRK_LUA)
    # warm-up (connection pools, imports, JIT-less caches)
    for by_target in urls.values():
        for url in by_target.values():
            run_wrk(url, token, lua, 1, args.connections, args.threads)

    http: dict[str, dict[str, list[dict[str, Any]]]] = {
        kind: {t: [] for t in http_targets.get(kind, TARGETS)} for kind in ("1k", "1m", "1k_c1")}
    ws: dict[str, dict[str, list[dict[str, Any]]]] = {kind: {t: [] for t in ws_targets} for kind in ("seq", "conc")}

    def rotated(targets: tuple[str, ...], rnd: int) -> tuple[str, ...]:  # no target always runs first
        k = rnd % len(targets)
        return targets[k:] + targets[:k]

    for rnd in range(args.rounds):
        log(f"round {rnd + 1}/{args.rounds}")
        for size in ("1k", "1m"):
            for target in rotated(http_targets[size], rnd):
                r = run_wrk(urls[size][target], token, lua, args.duration, args.connections, args.threads,
                            cpu_pids[target])
                http[size][target].append(r)
                log(f"  {size:3} {target:6} {r['rps']:9.0f} req/s {r['mib_s']:8.1f} MiB/s "
                    f"p50 {r['p50_ms']:7.2f} ms p99 {r['p99_ms']:7.2f} ms errors {r['errors']} "
                    f"server CPU {r['server_cpu_pct']:.0f}% ({r['server_cpu_us_per_request']:.0f} us/req)")
        for target in rotated(TARGETS, rnd):
            r = run_wrk(urls["1k"][target], token, lua, args.latency_duration, 1, 1, cpu_pids[target])
            http["1k_c1"][target].append(r)
            log(f"  1k c=1 {target:6} {r['rps']:7.0f} req/s p50 {r['p50_ms']:6.3f} ms p99 {r['p99_ms']:6.3f} ms")
        for kind, clients in (("seq", 1), ("conc", args.ws_clients)):
            for target in rotated(ws_targets, rnd):
                r = await ws_echo(ws_urls[target], auth if target in ("svc", "jsp") else {}, args.ws_duration, clients)
                ws[kind][target].append(r)
                log(f"  ws {kind:4} {target:6} {r['round_trips_s']:8.0f} round trips/s")
    results["http_raw"], results["ws_raw"] = http, ws

    if args.profile:
        prof_dir = Path(args.profile)
        prof_dir.mkdir(parents=True, exist_ok=True)
        for size in ("1k", "1m"):
            spy = PySpy(svc_proc.pid, prof_dir / f"svc-{size}.txt", int(args.duration) + 2)
            time.sleep(0.5)
            run_wrk(urls[size]["svc"], token, lua, args.duration, args.connections, args.threads)
            results.setdefault("profile", {})[f"svc-{size}"] = spy.wait()
            log(f"py-spy during svc {size}: {spy.out}")
        spy = PySpy(svc_proc.pid, prof_dir / "svc-ws.txt", int(args.ws_duration) + 2)
        time.sleep(0.5)
        await ws_echo(ws_urls["svc"], auth, args.ws_duration, args.ws_clients)
        results["profile"]["svc-ws"] = spy.wait()
        log(f"py-spy during svc ws: {spy.out}")

    # ------------------------------------------------------------------ cold start
    log("cold start: each backend's own start-to-ready, paired with a first request through jupyter-svc at zero")
    results["cold"] = {}
    async with aiohttp.ClientSession(headers=auth) as session:
        for backend, bursts in ((coldstart.nginx_backend(tmp), args.burst_reps),
                                (coldstart.web_app_backend(sys.executable, WEB_APP), 0)):
            results["cold"][backend.name] = await coldstart.measure(
                session, svc_base, svc_port, token, backend, args.cold_reps, bursts)
            procs.remember_children()

    log("first request after a server restart: a new server whose state folder holds the service at zero")
    results["restart"] = await restart.measure(procs, tmp, token, coldstart.nginx_backend(tmp, "restart-nginx"),
                                               args.restart_reps)

    # ------------------------------------------------------------------ 1 GiB through the proxy
    log("streaming 1 GiB from web_app /download through jupyter-svc, sampling server RSS")
    rss_before = psutil.Process(svc_proc.pid).memory_info().rss
    with RssSampler(svc_proc.pid) as sampler:
        got, secs = await download(f"{svc_base}svc/web/download?size={GiB}", auth)
    assert got == GiB, got
    peak = max(sampler.samples)
    results["stream_1gib"] = {"rss_before_mib": rss_before / MiB, "rss_peak_mib": peak / MiB,
                              "rss_after_mib": psutil.Process(svc_proc.pid).memory_info().rss / MiB,
                              "growth_mib": (peak - rss_before) / MiB, "seconds": secs,
                              "mib_s": GiB / MiB / secs, "samples": len(sampler.samples)}
    _, d_secs = await download(f"http://127.0.0.1:{web_port}/download?size={GiB}", {})
    results["stream_1gib"]["direct_mib_s"] = GiB / MiB / d_secs
    log(f"  RSS {rss_before / MiB:.1f} -> peak {peak / MiB:.1f} MiB in {secs:.1f} s "
        f"({GiB / MiB / secs:.0f} MiB/s; direct {GiB / MiB / d_secs:.0f} MiB/s)")

    # ------------------------------------------------------------------ 500 services at zero
    log(f"registering {args.many} services at zero")
    async with aiohttp.ClientSession(headers=auth) as session:
        async def list_latency(n: int) -> list[float]:
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                async with session.get(f"{svc_base}svc/api/services") as r:
                    body = await r.read()
                    assert r.status == 200
                out.append((time.perf_counter() - t0) * 1e3)
            results.setdefault("many", {})["list_bytes"] = len(body)
            return out

        few = await list_latency(args.list_calls)
        await asyncio.sleep(1)
        rss0 = psutil.Process(svc_proc.pid).memory_info().rss
        manifest = {"services": [{"name": f"idle-{i:04d}", "command": web_cmd, "desired_state": "scaled_to_zero"}
                                 for i in range(args.many)]}
        t0 = time.perf_counter()
        code, answer = await api(session, svc_base, "POST", "apply", {"manifest": manifest, "mode": "merge"})
        apply_s = time.perf_counter() - t0
        assert code == 200 and answer["ok"], (code, str(answer)[:500])
        _, listing = await api(session, svc_base, "GET", "services")
        states: dict[str, int] = {}
        for view in listing["services"]:
            states[view["status"]["state"]] = states.get(view["status"]["state"], 0) + 1
        await asyncio.sleep(3)  # a few idle-loop passes over all of them
        many = await list_latency(args.list_calls)
        rss1 = psutil.Process(svc_proc.pid).memory_info().rss
        cpu = psutil.Process(svc_proc.pid).cpu_percent(interval=3.0)  # idle loop cost with 500+ services
    results["many"].update({
        "count": args.many, "apply_s": apply_s, "states": states, "rss_before_mib": rss0 / MiB,
        "rss_after_mib": rss1 / MiB, "rss_growth_mib": (rss1 - rss0) / MiB,
        "list_few_ms": {"median": median(few), "p99": pct(few, 99)},
        "list_many_ms": {"median": median(many), "p99": pct(many, 99)}, "idle_cpu_pct": cpu,
    })
    log(f"  apply {apply_s:.2f} s, states {states}, RSS {rss0 / MiB:.1f} -> {rss1 / MiB:.1f} MiB, "
        f"list median {median(few):.1f} -> {median(many):.1f} ms, idle CPU {cpu:.1f}%")
    return results



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk load cell")
    parser.add_argument("--latency-duration", type=float, default=3, help="seconds per 1-connection wrk cell")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ws-duration", type=float, default=3)
    parser.add_argument("--ws-clients", type=int, default=8)
    parser.add_argument("--cold-reps", type=int, default=15, help="paired cold starts per backend")
    parser.add_argument("--restart-reps", type=int, default=7,
                        help="paired first requests to a server that has just started (nginx backend)")
    parser.add_argument("--burst-reps", type=int, default=3, help="bursts of 100 first requests (nginx backend)")
    parser.add_argument("--many", type=int, default=500)
    parser.add_argument("--list-calls", type=int, default=50)
    parser.add_argument("--profile", metavar="DIR", help="also py-spy the jupyter-svc server during wrk (svc)")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the servers' and nginx's logs here at the end")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    parser.add_argument("--readme-only", action="store_true", help="rewrite README.md from --out, run nothing")
    args = parser.parse_args()
    if args.readme_only:
        res = json.loads(Path(args.out).read_text())
        for key, prof in res.get("profile", {}).items():
            if Path(prof.get("file", "")).exists():  # re-read the raw stacks if they are still there
                res["profile"][key] = summarize_stacks(Path(prof["file"]))
        Path(args.out).write_text(json.dumps(res, indent=1, default=str) + "\n")
        write_readme(res, summarize(res), HERE / "README.md")
        return
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install -y nginx-light wrk")

    procs = Procs()
    tmp = Path(tempfile.mkdtemp(prefix="svc-bench-"))

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        res = asyncio.run(bench(args, procs, tmp))
    except BaseException:
        for logfile in sorted(tmp.glob("*.log")):
            sys.stderr.write(f"--- {logfile.name} (tail)\n{logfile.read_text(errors='replace')[-3000:]}\n")
        raise
    finally:
        procs.stop_all()
        if args.keep_logs:
            Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
            for logfile in tmp.glob("*.log"):
                shutil.copy(logfile, Path(args.keep_logs) / logfile.name)
        shutil.rmtree(tmp, ignore_errors=True)
    res["args"] = vars(args)
    res["command"] = "python benchmarks/run.py" + "".join(f" {a}" for a in sys.argv[1:])
    res["date"] = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    res["machine"] = machine()
    res["elapsed_s"] = time.monotonic() - started
    s = summarize(res)
    res["summary"] = s
    Path(args.out).write_text(json.dumps(res, indent=1, default=str) + "\n")
    if not args.no_readme:
        write_readme(res, s, HERE / "README.md")
    log(f"done in {res['elapsed_s']:.0f} s; results in {args.out}")
    for label, value, ok in s["targets"]:
        print(f"  {'MET    ' if ok else 'NOT MET'}  {label}: {value}")


if __name__ == "__main__":
    main()
