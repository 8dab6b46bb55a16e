"""From raw results to the summary, the targets and the generated part of benchmarks/README.md."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil
from harness import BEGIN, END, ROOT, VENV, GiB, median


# ---------------------------------------------------------------------------------------------- summary
def summarize(res: dict[str, Any]) -> dict[str, Any]:
    def med(kind: str, target: str, key: str) -> float:
        return median([r[key] for r in res["http_raw"][kind][target]])

    s: dict[str, Any] = {"http": {}, "ws": {}}
    for kind, cells in res["http_raw"].items():
        s["http"][kind] = {t: {k: med(kind, t, k) for k in ("rps", "mib_s", "p50_ms", "p99_ms", "server_cpu_pct",
                                                            "server_cpu_us_per_request")}
                           | {"errors": sum(r["errors"] for r in cells[t])} for t in cells}
    for kind, cells in res["ws_raw"].items():
        s["ws"][kind] = {t: median([r["round_trips_s"] for r in runs]) for t, runs in cells.items()}
    h, w = s["http"], s["ws"]

    spreads: dict[str, tuple[float, float]] = {}  # per-round ratios: lowest, highest

    def ratio_of_rounds(label: str, ratios: list[float]) -> float:
        spreads[label] = (min(ratios), max(ratios))
        return median(ratios)

    def paired(kind: str, a: str, b: str, key: str = "rps") -> float:
        """Median over rounds of a / b, each round's two cells run minutes apart at most: on a
        machine whose speed drifts (a shared host), steadier than a ratio of medians."""
        return ratio_of_rounds(f"{kind}:{a}/{b}", [x[key] / y[key] for x, y in zip(
            res["http_raw"][kind][a], res["http_raw"][kind][b], strict=True)])

    def paired_ws(kind: str, a: str, b: str) -> float:
        return ratio_of_rounds(f"ws-{kind}:{a}/{b}", [x["round_trips_s"] / y["round_trips_s"] for x, y in zip(
            res["ws_raw"][kind][a], res["ws_raw"][kind][b], strict=True)])

    def rounds(label: str, percent: bool = True) -> str:
        low, high = spreads[label]
        return f"rounds {low:.0%}-{high:.0%}" if percent else f"rounds {low:.2f}x-{high:.2f}x"

    fast, slow = res["cold"]["cold-nginx"], res["cold"]["cold-web"]
    failed = sum(r["failed"] for r in fast["burst"])
    s["ratios"] = {
        "svc_jsp_rps_1k": paired("1k", "svc", "jsp"),
        "svc_direct_mib_s_1m": h["1m"]["svc"]["mib_s"] / h["1m"]["direct"]["mib_s"],
        "p50_overhead_c1_ms": h["1k_c1"]["svc"]["p50_ms"] - h["1k_c1"]["direct"]["p50_ms"],
        "p50_overhead_loaded_ms": h["1k"]["svc"]["p50_ms"] - h["1k"]["direct"]["p50_ms"],
        "jsp_p50_overhead_c1_ms": h["1k_c1"]["jsp"]["p50_ms"] - h["1k_c1"]["direct"]["p50_ms"],
        "ws_seq_svc_direct": w["seq"]["svc"] / w["seq"]["direct"],
        "ws_conc_svc_direct": w["conc"]["svc"] / w["conc"]["direct"],
        "cold_overhead_ms": fast["overhead_ms"], "cold_web_overhead_ms": slow["overhead_ms"],
        "cold_burst_overhead_ms": fast["burst_overhead_ms"],
        "cold_burst_failed": failed, "cold_burst_total": 100 * len(fast["burst"]),
        "rss_growth_1gib_mib": res["stream_1gib"]["growth_mib"],
        # ceilings: the best any handler of the Jupyter server (plain) or any Python relay can do
        "plain_jsp_rps_1k": h["1k"]["plain"]["rps"] / h["1k"]["jsp"]["rps"],
        "auth_jsp_rps_1k": h["1k"]["auth"]["rps"] / h["1k"]["jsp"]["rps"],
        "svc_plain_rps_1k": paired("1k", "svc", "plain"),
        "hop_plain_rps_1k": paired("1k", "hop", "plain"),
        "svc_hop_rps_1k": paired("1k", "svc", "hop"),
        "authhop_plain_rps_1k": paired("1k", "authhop", "plain"),
        "svc_authhop_rps_1k": paired("1k", "svc", "authhop"),
        "hop_plain_mib_s_1m": paired("1m", "hop", "plain", "mib_s"),
        "svc_auth_rps_1k": h["1k"]["svc"]["rps"] / h["1k"]["auth"]["rps"],
        "plain_direct_mib_s_1m": h["1m"]["plain"]["mib_s"] / h["1m"]["direct"]["mib_s"],
        "auth_direct_mib_s_1m": h["1m"]["auth"]["mib_s"] / h["1m"]["direct"]["mib_s"],
        "relay_direct_mib_s_1m": h["1m"]["relay"]["mib_s"] / h["1m"]["direct"]["mib_s"],
        "relay_jsp_rps_1k": h["1k"]["relay"]["rps"] / h["1k"]["jsp"]["rps"],
        "ws_seq_relay_direct": w["seq"]["relay"] / w["seq"]["direct"],
        "ws_conc_relay_direct": w["conc"]["relay"] / w["conc"]["direct"],
    }
    r = s["ratios"]
    rs = res.get("restart")
    r["svc_plain_mib_s_1m"] = paired("1m", "svc", "plain", "mib_s")
    r["splicehop_plain_mib_s_1m"] = paired("1m", "splicehop", "plain", "mib_s")
    r["svc_splicehop_mib_s_1m"] = paired("1m", "svc", "splicehop", "mib_s")
    r["svc_jsp_mib_s_1m"] = paired("1m", "svc", "jsp", "mib_s")
    r["ws_seq_svc_relay"] = paired_ws("seq", "svc", "relay")
    r["ws_conc_svc_relay"] = paired_ws("conc", "svc", "relay")
    if rs:
        r["restart_overhead_ms"] = rs["overhead_ms"]
        r["restart_minus_warm_ms"] = rs["overhead_ms"] - fast["overhead_ms"]
    r["cold_floor_ms"] = fast.get("floor_ms")
    r["cold_setpriv_ms"] = fast.get("setpriv_ms")
    # each target is a ratio to what bounds it in this very run (a ceiling), so that a slower
    # machine moves both sides and a met target stays met
    s["targets"] = [
        ("1 KiB requests/s: svc / bare tornado handler in the same server >= 85%",
         f"{r['svc_plain_rps_1k']:.0%} ({rounds('1k:svc/plain')}; ceiling: a bare handler making the proxy's "
         "one round trip to nginx "
         f"reaches {r['hop_plain_rps_1k']:.0%} of it, and {r['authhop_plain_rps_1k']:.0%} when it authenticates "
         f"and authorizes each request through Jupyter as the proxy must; svc reaches "
         f"{r['svc_authhop_rps_1k']:.0%} of that)",
         r["svc_plain_rps_1k"] >= 0.85),
        ("1 MiB throughput: svc / bare handler answering 1 MiB from memory >= 75%",
         f"{r['svc_plain_mib_s_1m']:.0%} ({rounds('1m:svc/plain')}; ceiling: a bare handler making the proxy's "
         f"round trip to nginx with the body spliced socket to socket, no auth, reaches "
         f"{r['splicehop_plain_mib_s_1m']:.0%} of it ({rounds('1m:splicehop/plain')}), nginx sending the body on "
         f"the same cores; svc reaches {r['svc_splicehop_mib_s_1m']:.0%} of that)",
         r["svc_plain_mib_s_1m"] >= 0.75),
        ("WebSocket echo, 1 client: svc / raw asyncio relay >= 90%",
         f"{r['ws_seq_svc_relay']:.0%} ({rounds('ws-seq:svc/relay')})",
         r["ws_seq_svc_relay"] >= 0.9),
        (f"WebSocket echo, {res['args']['ws_clients']} clients: svc / raw asyncio relay >= 90%",
         f"{r['ws_conc_svc_relay']:.0%} ({rounds('ws-conc:svc/relay')})", r["ws_conc_svc_relay"] >= 0.9),
        ("cold start over the app's own start (median of pairs) <= +3 ms",
         f"+{r['cold_overhead_ms']:.1f} ms (nginx; aiohttp app: {r['cold_web_overhead_ms']:+.1f} ms)"
         + (f"; floor: the same first request on a new connection once the service is up costs "
            f"+{r['cold_floor_ms']:.1f} ms over nginx's own answer" if r["cold_floor_ms"] is not None else "")
         + (f", and nginx's own start behind `setpriv --pdeathsig` (the local backend's guard against "
            f"orphans) {r['cold_setpriv_ms']:+.1f} ms" if r["cold_setpriv_ms"] is not None else "")
         + (f", so the wake itself adds {r['cold_overhead_ms'] - r['cold_floor_ms'] - (r['cold_setpriv_ms'] or 0):+.1f}"
            " ms" if r["cold_floor_ms"] is not None else ""),
         r["cold_overhead_ms"] <= 3),
        ("first request after a server restart, service at zero: within 5 ms of a warm server's cold start",
         (f"+{r['restart_overhead_ms']:.1f} ms over the app's own start, {r['restart_minus_warm_ms']:+.1f} ms "
          f"from the warm server's; {rs['failed']} of {len(rs['pairs'])} failed") if rs else "not measured",
         bool(rs) and r["restart_minus_warm_ms"] <= 5 and rs["failed"] == 0),
        ("1 KiB requests/s: svc / jupyter-server-proxy >= 4.5x",
         f"{r['svc_jsp_rps_1k']:.2f}x ({rounds('1k:svc/jsp', False)})",
         r["svc_jsp_rps_1k"] >= 4.5),
        ("1 MiB throughput: svc / jupyter-server-proxy >= 2.5x",
         f"{r['svc_jsp_mib_s_1m']:.2f}x ({rounds('1m:svc/jsp', False)})",
         r["svc_jsp_mib_s_1m"] >= 2.5),
        ("1 KiB p50 overhead svc - direct < 3 ms (1 connection)", f"{r['p50_overhead_c1_ms']:.2f} ms",
         r["p50_overhead_c1_ms"] < 3),
        ("100 concurrent first requests: 0 failed", f"{failed} / {r['cold_burst_total']} failed", failed == 0),
        ("1 GiB streamed: server RSS growth < 50 MiB", f"{r['rss_growth_1gib_mib']:.1f} MiB",
         r["rss_growth_1gib_mib"] < 50),
    ]
    return s


def machine() -> dict[str, str]:
    def version(cmd: list[str]) -> str:
        with contextlib.suppress(Exception):
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        return "?"

    cpu = "?"
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name"))
    pkgs = {}
    for mod in ("jupyter_server", "tornado", "aiohttp"):
        with contextlib.suppress(Exception):
            pkgs[mod] = __import__(mod).__version__
    jsp = subprocess.run([str(VENV / "bin" / "python"), "-c", "import jupyter_server_proxy as j; print(j.__version__)"],
                         capture_output=True, text=True)
    pkgs["jupyter_server_proxy"] = jsp.stdout.strip() or "?"
    with contextlib.suppress(Exception):
        from jupyter_svc import __version__ as svc_version
        pkgs["jupyter_svc"] = svc_version
    os_name = "?"
    with contextlib.suppress(OSError):
        release = Path("/etc/os-release").read_text().splitlines()
        os_name = next(ln.split("=", 1)[1].strip().strip('"') for ln in release if ln.startswith("PRETTY_NAME="))
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory_gib": f"{psutil.virtual_memory().total / GiB:.1f}",
            "os": os_name, "kernel": platform.release(), "python": platform.python_version(),
            "nginx": version(["nginx", "-v"]), "wrk": version(["wrk", "-v"]),
            "packages": ", ".join(f"{k} {v}" for k, v in pkgs.items()), "commit": commit.stdout.strip()}


def write_readme(res: dict[str, Any], s: dict[str, Any], path: Path) -> None:
    m, h, w, r, a = res["machine"], s["http"], s["ws"], s["ratios"], res["args"]
    names = {"direct": "direct (nginx)", "svc": "jupyter-svc", "jsp": "jupyter-server-proxy",
             "plain": "ceiling: bare tornado handler in the svc server",
             "hop": "ceiling: bare handler + one round trip to nginx, in the svc server",
             "authhop": "ceiling: the same round trip from a Jupyter-authenticated handler",
             "splicehop": "ceiling: bare handler + one round trip to nginx, body spliced",
             "auth": "reference: authenticated Jupyter handler in the svc server",
             "relay": "ceiling: raw Python TCP relay to nginx"}
    L: list[str] = []
    add = L.append
    add("# Benchmarks\n")
    add("One command starts nginx (the backend), a Jupyter server with jupyter-svc and a second one with")
    add("jupyter-server-proxy (installed only in `benchmarks/.venv`, never a dependency of the package), and")
    add("measures all three in one interleaved run (direct, svc, jsp in rotating order, several rounds;")
    add("medians reported). Everything runs on 127.0.0.1 and is stopped at the end.\n")
    add("```")
    add(res["command"])
    add("```\n")
    add(f"Run: {res['date']} — {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, {m['os']} "
        f"(kernel {m['kernel']}), Python {m['python']}, {m['nginx']}, {m['wrk']}; {m['packages']}; "
        f"commit {m['commit']}.\n")
    add(f"Settings: {a['rounds']} rounds; wrk {a['duration']} s per cell, {a['threads']} wrk thread(s), "
        f"{a['connections']} connections (load) and 1 thread / 1 connection for {a['latency_duration']} s "
        f"(latency); WebSocket echo {a['ws_duration']} s per cell with 1 client and with {a['ws_clients']} "
        f"concurrent clients (64-byte text messages, one in flight per client); {a['cold_reps']} paired "
        f"cold starts per backend and {a['burst_reps']} bursts of 100 concurrent first requests; wrk, the servers and "
        f"nginx share the {m['cores']} cores.\n")
    add("## Targets\n")
    add("A ratio between two routes is the median over the rounds of that round's ratio (the two cells of a")
    add("round run within a minute of each other), steadier than a ratio of medians on a shared host whose")
    add("speed drifts; \"rounds lo-hi\" gives the lowest and the highest round's ratio, how far one round")
    add("alone can be trusted here; the tables below give each route's medians.\n")
    add("| target | measured | |")
    add("|---|---|---|")
    for label, value, ok in s["targets"]:
        add(f"| {label} | {value} | {'met' if ok else '**not met**'} |")
    add("")
    add("## HTTP (wrk, medians over rounds)\n")
    add("| response | route | requests/s | MiB/s | p50 ms | p99 ms | errors | server CPU % | CPU us / request |")
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, label in (("1k", f"1 KiB, {a['connections']} conns"), ("1m", f"1 MiB, {a['connections']} conns"),
                        ("1k_c1", "1 KiB, 1 conn")):
        for t in h[kind]:
            c = h[kind][t]
            add(f"| {label} | {names[t]} | {c['rps']:.0f} | {c['mib_s']:.1f} | {c['p50_ms']:.2f} | "
                f"{c['p99_ms']:.2f} | {c['errors']} | {c['server_cpu_pct']:.0f} | "
                f"{c['server_cpu_us_per_request']:.0f} |")
    add("")
    add(f"Ratios: 1 KiB requests/s svc / jsp = **{r['svc_jsp_rps_1k']:.2f}x**; 1 MiB throughput svc / direct = "
        f"**{r['svc_direct_mib_s_1m']:.2f}x**; p50 overhead over direct on one connection: svc "
        f"**{r['p50_overhead_c1_ms']:.2f} ms**, jsp {r['jsp_p50_overhead_c1_ms']:.2f} ms; under load "
        f"({a['connections']} connections) svc p50 - direct p50 = {r['p50_overhead_loaded_ms']:.2f} ms.\n")
    add("## WebSocket echo (round trips/s, medians over rounds)\n")
    add("| clients | direct | jupyter-svc | jupyter-server-proxy | ceiling: raw Python TCP relay | svc / direct |")
    add("|---|---:|---:|---:|---:|---:|")
    for kind, clients in (("seq", 1), ("conc", a["ws_clients"])):
        c = w[kind]
        add(f"| {clients} | {c['direct']:.0f} | {c['svc']:.0f} | {c['jsp']:.0f} | {c['relay']:.0f} | "
            f"{c['svc'] / c['direct']:.2f}x |")
    add("")
    add("## Ceilings: what no proxy inside this Jupyter server (or written in Python) can pass\n")
    add("Measured in the same run, on the same machine: `benchmarks/ceiling_ext.py` (handlers loaded into")
    add("the jupyter-svc server, answering from memory or making the proxy's round trip to nginx) and")
    add("`benchmarks/tcp_relay.py` (asyncio protocols copying bytes between two sockets, no HTTP, no")
    add("auth). The authenticated handler is a reference, not a ceiling: it asks Jupyter's IdentityProvider")
    add("on every request, which the proxy does once per credentials and `auth_cache_seconds`")
    add("(`jupyter_svc/proxy/access.py`).\n")
    add("| ceiling | measured | target it bounds |")
    add("|---|---|---|")
    add(f"| bare tornado handler, 1 KiB: requests/s / jsp | {r['plain_jsp_rps_1k']:.2f}x | svc reaches "
        f"{r['svc_plain_rps_1k']:.0%} of it (target 85%) |")
    add(f"| bare handler making one round trip to nginx (no auth, no header rules), 1 KiB: requests/s / bare "
        f"handler | {r['hop_plain_rps_1k']:.0%} | the least a proxy in this server does: svc reaches "
        f"{r['svc_hop_rps_1k']:.0%} of it |")
    add(f"| the same round trip from a Jupyter handler that authenticates and authorizes each request as the "
        f"proxy does (Jupyter's `prepare()`, identity remembered per credentials, the authorizer; no header "
        f"rules), 1 KiB: requests/s / bare handler | {r['authhop_plain_rps_1k']:.0%} | the least a proxy that "
        f"leaves access to Jupyter does: svc reaches {r['svc_authhop_rps_1k']:.0%} of it |")
    add(f"| bare handler making one round trip to nginx, 1 MiB, its body moved by splice(2) as the proxy does, no "
        f"auth: throughput / bare handler | {r['splicehop_plain_mib_s_1m']:.0%} | the least a proxy in this "
        f"server does for a large body: svc reaches {r['svc_splicehop_mib_s_1m']:.0%} of it |")
    add(f"| the same, 1 MiB (read whole, then written): throughput / bare handler | {r['hop_plain_mib_s_1m']:.0%} | "
        f"svc (splice(2) for large bodies) reaches {r['svc_plain_mib_s_1m']:.0%} of the bare handler |")
    add(f"| Jupyter-authenticated handler, 1 KiB: requests/s / jsp | {r['auth_jsp_rps_1k']:.2f}x | a reference: svc "
        f"reaches {r['svc_auth_rps_1k']:.0%} of it |")
    add(f"| bare tornado handler, 1 MiB from memory: throughput / direct | {r['plain_direct_mib_s_1m']:.2f}x | "
        f"svc reaches {r['svc_plain_mib_s_1m']:.0%} of it (target 75%) |")
    add(f"| Jupyter-authenticated handler, 1 MiB: throughput / direct | {r['auth_direct_mib_s_1m']:.2f}x | "
        f"a reference |")
    add(f"| raw Python TCP relay, 1 MiB: throughput / direct | {r['relay_direct_mib_s_1m']:.2f}x | "
        f"(no HTTP, no auth: not a proxy Jupyter can serve) |")
    add(f"| raw Python TCP relay, WebSocket echo / direct | {r['ws_seq_relay_direct']:.2f}x (1 client), "
        f"{r['ws_conc_relay_direct']:.2f}x ({a['ws_clients']} clients) | svc reaches {r['ws_seq_svc_relay']:.0%} "
        f"and {r['ws_conc_svc_relay']:.0%} of it (target 90%) |")
    add("")
    add("## Cold start (paired: the backend's own start, then a first request through jupyter-svc)\n")
    add("Own start: the script spawns the backend itself and polls `GET /` every 1 ms until it answers.")
    add("Through jupyter-svc: the service is scaled to zero, then one `GET /svc/<name>/` is sent; the time")
    add("runs from connect to the status line, with the same client code for both. The overhead of a pair is")
    add("the difference; the table gives medians. (`benchmarks/coldstart.py`)\n")
    add("| backend | own start ms | through jupyter-svc ms | overhead ms (median of pairs) | "
        "server's `last_cold_start_ms` | overheads of all pairs ms |")
    add("|---|---:|---:|---:|---:|---|")
    for name, c in res["cold"].items():
        pairs = c["pairs"]
        add(f"| {name} | {median([x['own_ms'] for x in pairs]):.1f} | {median([x['svc_ms'] for x in pairs]):.1f} | "
            f"**{c['overhead_ms']:.1f}** | {median([x['server_ms'] for x in pairs]):.1f} | "
            f"{', '.join(format(x['overhead_ms'], '.1f') for x in pairs)} |")
    add("")
    add("Where the server's own `last_cold_start_ms` went (`status.last_cold_start_steps`, medians of the pairs, ms):"
        " queued for the service's lock, spawn (the backend's start), ready (until the readiness probe passed),"
        " release of the held request:\n")
    add("| backend | queued | spawn | ready | release | own start of the app |")
    add("|---|---:|---:|---:|---:|---:|")
    runs = [*res["cold"].items(), *((("after a restart", res["restart"]),) if res.get("restart") else ())]
    for name, c in runs:
        steps = [x.get("steps") or {} for x in c["pairs"]]
        cells = " | ".join(f"{median([st.get(k, 0.0) for st in steps]):.2f}" for k in ("queued", "spawn", "ready",
                                                                                        "release"))
        add(f"| {name} | {cells} | {median([x['own_ms'] for x in c['pairs']]):.1f} |")
    add("")
    for name, c in res["cold"].items():
        if c["burst"]:
            add(f"100 concurrent first requests ({name}): " + "; ".join(
                f"{x['ok']} ok, {x['failed']} failed, {x['starts']} start(s), {x['cold_header']} with "
                f"`X-Svc-Cold-Start: true`, last answer {x['wall_ms']:.0f} ms (own start {x['own_ms']:.0f} ms)"
                for x in c["burst"]) + f"; median overhead of the last answer {c['burst_overhead_ms']:.1f} ms.\n")
    rs = res.get("restart")
    if rs:
        add("## First request after a server restart (`benchmarks/restart.py`)\n")
        add("A new jupyter-svc server starts on a state folder holding the service (nginx) at zero; the first")
        add("`GET /svc/<name>/` is sent as soon as the server's `/api/status` answers, paired with nginx's own")
        add("start just before.\n")
        add("| own start ms | through jupyter-svc ms | overhead ms (median) | warm server's overhead ms | "
            "overheads of all pairs ms |")
        add("|---:|---:|---:|---:|---|")
        add(f"| {median([x['own_ms'] for x in rs['pairs']]):.1f} | {median([x['svc_ms'] for x in rs['pairs']]):.1f} "
            f"| **{rs['overhead_ms']:.1f}** | {res['cold']['cold-nginx']['overhead_ms']:.1f} | "
            f"{', '.join(format(x['overhead_ms'], '.1f') for x in rs['pairs'])} |")
        add("")
    st = res["stream_1gib"]
    add("## Memory\n")
    add(f"- 1 GiB response (web_app `/download?size=1073741824`) through jupyter-svc: server RSS "
        f"{st['rss_before_mib']:.1f} MiB before, peak {st['rss_peak_mib']:.1f} MiB "
        f"(**+{st['growth_mib']:.1f} MiB**, {st['samples']} samples every 20 ms), {st['mib_s']:.0f} MiB/s "
        f"(same download direct from the app: {st['direct_mib_s']:.0f} MiB/s).")
    mn = res["many"]
    add(f"- {mn['count']} services registered at zero in one `POST svc/api/apply` ({mn['apply_s']:.2f} s; states "
        f"{mn['states']}): server RSS {mn['rss_before_mib']:.1f} -> {mn['rss_after_mib']:.1f} MiB "
        f"(+{mn['rss_growth_mib']:.1f} MiB); `GET svc/api/services` ({a['list_calls']} sequential calls) "
        f"median {mn['list_few_ms']['median']:.1f} ms / p99 {mn['list_few_ms']['p99']:.1f} ms with 3 services, "
        f"median {mn['list_many_ms']['median']:.1f} ms / p99 {mn['list_many_ms']['p99']:.1f} ms with "
        f"{mn['count'] + 3} ({mn['list_bytes'] / 1024:.0f} KiB); server CPU while idle with them: "
        f"{mn['idle_cpu_pct']:.1f}% of one core.\n")
    if res.get("profile"):
        add("## Profile (py-spy, jupyter-svc server during wrk)\n")
        for key, prof in res["profile"].items():
            add(f"`{key}`: {prof.get('samples')} samples (main thread busy). Inclusive share per function "
                f"(event-loop frames left out) and self share:\n")
            add("| inclusive | % | self | % |")
            add("|---|---:|---|---:|")
            rows = zip(prof.get("inclusive_pct", [])[:15], prof.get("self_pct", [])[:15], strict=False)
            for (fi, pi), (fs, ps) in rows:
                add(f"| `{fi}` | {pi} | `{fs}` | {ps} |")
            add("")
    add("Raw numbers of this run: `benchmarks/results.json`.")
    block = f"{BEGIN}\n" + "\n".join(L) + f"\n{END}\n"
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:  # keep the hand-written notes around the generated block
        head, rest = old.split(BEGIN, 1)
        block = head + block + rest.split(END, 1)[1].lstrip("\n")
    path.write_text(block)


