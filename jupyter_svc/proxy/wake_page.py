"""The small page a browser sees while its service wakes from zero."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Waking {name}...</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body {{ font-family: system-ui, sans-serif; display: grid; place-items: center; height: 90vh;
        color: #333; background: #fafafa; }}
 @media (prefers-color-scheme: dark) {{ body {{ color: #ddd; background: #111; }} }}
 .box {{ text-align: center; }} .spin {{ width: 32px; height: 32px; margin: 1em auto;
        border: 3px solid #8884; border-top-color: #f37726; border-radius: 50%;
        animation: s 0.8s linear infinite; }} @keyframes s {{ to {{ transform: rotate(360deg); }} }}
</style></head>
<body><div class="box"><div class="spin"></div>
<h2>Waking <code>{name}</code>&hellip;</h2>
<p id="state">It was {state}; starting it now. <span id="t">0</span>s</p></div>
<script>
 const t0 = Date.now();
 setInterval(() => {{ document.getElementById("t").textContent = Math.round((Date.now() - t0) / 1000); }}, 500);
 async function wait() {{
   try {{
     const r = await fetch(location.href, {{ headers: {{ "X-Svc-Wait": "1" }}, credentials: "same-origin" }});
     if (r.status >= 500) {{
       const body = await r.json().catch(() => ({{}}));
       document.getElementById("state").textContent = body.message || ("Error " + r.status);
       setTimeout(wait, 3000);
       return;
     }}
   }} catch (e) {{ setTimeout(wait, 2000); return; }}
   location.reload();
 }}
 wait();
</script></body></html>
"""


def wake_page(name: str, state: str) -> str:
    return _PAGE.format(name=escape(name), state=escape(state.replace("_", " ")))
