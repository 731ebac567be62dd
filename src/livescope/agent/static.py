"""Everything on the agent's port that is not /api or /ws: the web console and output files.

``/`` and ``/ui`` redirect to ``/ui/`` (query kept); ``/ui/…`` serves the files of
``livescope/ui``; ``/livescope-output/…`` serves what commands wrote to the agent's output
directory (profiles, heap dumps). Paths are resolved and must stay inside their root, so ``..``
leads nowhere. Files are served with ``Cache-Control: no-cache`` and an ETag, so a browser
revalidates them (a 304 when unchanged) and never shows an upgraded console or a rewritten
profile stale.
"""

from __future__ import annotations

import html
import mimetypes
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from livescope.agent.server import Response

if TYPE_CHECKING:
    from livescope.agent.runtime import Agent
    from livescope.agent.server import Request

UI_ROOT = Path(__file__).resolve().parent.parent / "ui"
OUTPUT_PREFIX = "/livescope-output/"
# The web console's own types, fixed rather than guessed: mimetypes reads the machine's tables,
# which may call .js text/plain (browsers then refuse to run it under nosniff).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}

FALLBACK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>livescope</title></head>
<body><h1>livescope agent</h1>
<p>This agent speaks the Arthas HTTP API: <code>POST /api</code> with a JSON body, e.g.</p>
<pre>curl -s http://HOST:PORT/api -d '{"action":"exec","command":"version"}'</pre>
<p>Terminal console: <code>livescope console</code>. Output files:
<a href="/livescope-output/">/livescope-output/</a>.</p>
</body></html>
"""


def serve_static(agent: Agent, request: Request) -> Response:
    """Answer a GET/HEAD for a path other than /api and /ws."""
    path = request.path
    if path in ("/", "/ui"):
        query = urlsplit(request.target).query  # /?quiet=true opens the console quiet
        location = "/ui/" + (f"?{query}" if query else "")
        return Response(302, b"", None, headers=[("Location", location)])
    if request.method not in ("GET", "HEAD"):
        return _not_found()
    if path.startswith("/ui/"):
        relative = path[len("/ui/") :] or "index.html"
        found = _inside(UI_ROOT, relative)
        if found is None and relative == "index.html":
            return Response(200, FALLBACK_PAGE.encode("utf-8"), "text/html; charset=utf-8")
        return _file(found, request)
    if path == OUTPUT_PREFIX.rstrip("/"):
        return Response(302, b"", None, headers=[("Location", OUTPUT_PREFIX)])
    if path.startswith(OUTPUT_PREFIX):
        root = Path(agent.output_dir)
        relative = path[len(OUTPUT_PREFIX) :]
        if relative == "":
            return _listing(root)
        return _file(_inside(root, relative), request)
    return _not_found()


def _inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it exists and resolves to a file inside ``root``; else None."""
    name = unquote(relative)
    if "\x00" in name:
        return None
    try:
        base = root.resolve()
        candidate = (base / name).resolve()
    except (OSError, ValueError):
        return None
    if base not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def _file(path: Path | None, request: Request) -> Response:
    if path is None:
        return _not_found()
    try:
        stat = path.stat()
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        headers = [("Cache-Control", "no-cache"), ("ETag", etag)]
        if etag in request.headers.get("if-none-match", ""):
            return Response(304, b"", None, headers=headers)
        data = path.read_bytes()
    except OSError:
        return _not_found()
    headers.append(("X-Content-Type-Options", "nosniff"))
    return Response(200, data, _content_type(path.name), headers=headers)


def _content_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type in ("application/javascript",):
        content_type += "; charset=utf-8"
    return content_type


def _listing(root: Path) -> Response:
    """A plain index of the output directory, like Arthas's /arthas-output/ browser."""
    try:
        names = sorted(entry.name for entry in os.scandir(root) if entry.is_file())
    except OSError:
        names = []
    items = "".join(f'<li><a href="{quote(name)}">{html.escape(name)}</a></li>' for name in names)
    page = (
        '<!doctype html><html><head><meta charset="utf-8"><title>livescope-output</title>'
        f"</head><body><h1>livescope-output</h1><ul>{items}</ul></body></html>"
    )
    return Response(200, page.encode("utf-8"), "text/html; charset=utf-8")


def _not_found() -> Response:
    return Response(404, b"Not found", "text/plain")
