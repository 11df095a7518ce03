"""Self-contained map pages: a folium page rewritten so it loads nothing from the internet.

:func:`inline_assets` inlines Leaflet's JavaScript and CSS into a page (used by
``write_preview(..., self_contained=True)``), so it opens without the internet (only the
basemap tiles then stay blank). Leaflet comes from an installed copy, never from this
repository:

1. the ``dist/`` folder named by the environment variable ``LSGH_LEAFLET_DIST`` (e.g.
   ``npm install --prefix .cache/npm leaflet@1.9`` then
   ``LSGH_LEAFLET_DIST=.cache/npm/node_modules/leaflet/dist``);
2. otherwise the Leaflet build that the ``jupyter-leaflet`` package ships (installed with
   ipyleaflet, a dependency of geemap) in ``share/jupyter/labextensions/jupyter-leaflet``.

Other CDN files of folium's page template (jQuery, Bootstrap, Font Awesome, awesome
markers) are not used by these maps and are dropped from a self-contained page.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from lsgh_ee.errors import LsghError

log = logging.getLogger(__name__)

LEAFLET_ENV = "LSGH_LEAFLET_DIST"
#: CDN files of folium's default page template that these maps do not need.
UNNEEDED_ASSETS = ("jquery", "bootstrap", "fontawesome", "font-awesome", "awesome-markers",
                   "awesome.rotate", "glyphicons")  # fmt: skip


@dataclass(frozen=True)
class LeafletAssets:
    """Leaflet's JavaScript and CSS (images inlined) from an installed copy."""

    js: str
    css: str
    source: str


_REMOTE = r"(?:https?:)?//[^\"'\s>]+"
_SCRIPT = re.compile(rf"<script\b[^>]*\bsrc=[\"']({_REMOTE})[\"'][^>]*>\s*</script>", re.I)
_LINK = re.compile(rf"<link\b[^>]*\bhref=[\"']({_REMOTE})[\"'][^>]*>", re.I)


def inline_assets(page: str, assets: LeafletAssets | None = None) -> str:
    """Rewrite a folium page so it loads nothing from the internet: Leaflet's script and
    stylesheet are inlined from an installed copy, other remote scripts and stylesheets
    are inlined when folium ships them, else dropped (the map does not need folium's
    default Bootstrap / jQuery / Font Awesome files)."""
    assets = assets or leaflet_assets()

    def script(match: re.Match) -> str:
        url = match.group(1)
        if _is_leaflet(url, ".js"):
            return f"<script>/* {assets.source} */\n{_safe_script(assets.js)}\n</script>"
        local = _packaged_file(url)
        if local is not None:
            return f"<script>\n{_safe_script(local.read_text(encoding='utf-8'))}\n</script>"
        _dropped(url)
        return ""

    def link(match: re.Match) -> str:
        url = match.group(1)
        if "stylesheet" in match.group(0).lower() and _is_leaflet(url, ".css"):
            return f"<style>/* {assets.source} */\n{_safe_style(assets.css)}\n</style>"
        _dropped(url)
        return ""

    return _LINK.sub(link, _SCRIPT.sub(script, page))


def _is_leaflet(url: str, ext: str) -> bool:
    name = url.rsplit("/", 1)[-1].split("?")[0].lower()
    return name in (f"leaflet{ext}", f"leaflet.min{ext}", f"leaflet-src{ext}")


def _packaged_file(url: str) -> Path | None:
    """A file of the same name shipped in folium's templates (some plugins), if any."""
    import folium

    name = url.rsplit("/", 1)[-1].split("?")[0]
    candidate = Path(folium.__file__).parent / "templates" / name
    return candidate if name and candidate.is_file() else None


def _dropped(url: str) -> None:
    if any(word in url.lower() for word in UNNEEDED_ASSETS):
        log.debug("self-contained preview: left out %s (not used by the map)", url)
    else:
        log.warning("self-contained preview: left out %s (no local copy)", url)


def _safe_script(text: str) -> str:
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.I)


def _safe_style(text: str) -> str:
    return re.sub(r"</(style)", r"<\\/\1", text, flags=re.I)


@functools.lru_cache(maxsize=4)
def _cached_assets(env_dist: str | None) -> LeafletAssets:
    if env_dist:
        return _from_dist(Path(env_dist))
    for folder in _jupyter_leaflet_dirs():
        found = _from_jupyter_leaflet(folder)
        if found is not None:
            return found
    raise LsghError(
        "no installed copy of Leaflet for a self-contained page: install ipyleaflet "
        f"(pip; it ships jupyter-leaflet), or 'npm install leaflet@1.9' and set {LEAFLET_ENV} "
        "to its dist/ folder, or write the page with --cdn"
    )


def leaflet_assets() -> LeafletAssets:
    """Leaflet's JS and CSS from ``$LSGH_LEAFLET_DIST`` or the installed jupyter-leaflet."""
    return _cached_assets(os.environ.get(LEAFLET_ENV) or None)


def _from_dist(dist: Path) -> LeafletAssets:
    """A Leaflet ``dist/`` folder (npm's ``leaflet`` package): leaflet.js, leaflet.css and
    images/ (inlined into the CSS as data URLs)."""
    js, css = dist / "leaflet.js", dist / "leaflet.css"
    if not (js.is_file() and css.is_file()):
        raise LsghError(f"{LEAFLET_ENV}={dist} holds no leaflet.js and leaflet.css; point it "
                        "at the dist/ folder of the npm 'leaflet' package")  # fmt: skip

    def image(match: re.Match) -> str:
        path = dist / match.group(1)
        if not path.is_file():
            return "none"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    text = re.sub(r"url\(\s*['\"]?(images/[\w.-]+\.png)['\"]?\s*\)", image,
                  css.read_text(encoding="utf-8"))  # fmt: skip
    return LeafletAssets(js.read_text(encoding="utf-8"), text, f"Leaflet from {dist}")


def _jupyter_leaflet_dirs() -> list[Path]:
    roots = [Path(sys.prefix) / "share" / "jupyter"]
    try:
        from jupyter_core.paths import jupyter_path

        roots += [Path(p) for p in jupyter_path()]
    except ImportError:  # pragma: no cover - jupyter_core comes with ipyleaflet
        pass
    folders = [root / "labextensions" / "jupyter-leaflet" / "static" for root in roots]
    return list(dict.fromkeys(f for f in folders if f.is_dir()))


_CHUNK = re.compile(r"\(self\.(webpackChunk\w+)\s*=\s*self\.\1\s*\|\|\s*\[\]\)\.push\(")
# Runs the modules of a webpack chunk pushed by a lazily-loaded bundle file, so the Leaflet
# build inside it defines window.L as the stand-alone leaflet.js does.
_CHUNK_LOADER = (
    'self["{name}"] = {{push: function (chunk) {{'
    " for (var id in chunk[1]) {{ var module = {{exports: {{}}}};"
    " chunk[1][id].call(module.exports, module, module.exports); }} }}}};"
)


def _from_jupyter_leaflet(folder: Path) -> LeafletAssets | None:
    """Leaflet from jupyter-leaflet's JupyterLab bundle: one webpack chunk is the Leaflet
    build (it assigns ``window.L``); another module holds leaflet.css as a JS string."""
    js_text = css_text = None
    version = ""
    for path in sorted(folder.glob("*.js")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if js_text is None and "window.L=" in text.replace(" ", ""):
            found = re.search(r'\.version\s*=\s*"(1\.\d+\.\d+)"', text)
            chunk = _CHUNK.search(text)
            if found and chunk:
                version = found.group(1)
                notice = path.with_name(path.name + ".LICENSE.txt")
                header = notice.read_text(encoding="utf-8") if notice.is_file() else ""
                js_text = (f"{header}\n{_CHUNK_LOADER.format(name=chunk.group(1))}\n"
                           f"{text}\ndelete self[{chunk.group(1)!r}];")  # fmt: skip
        if css_text is None and "/* required styles */" in text:
            css_text = _template_literal(text, text.index("/* required styles */"))
    if js_text is None or css_text is None:
        return None
    source = f"Leaflet {version} from jupyter-leaflet ({folder})"
    return LeafletAssets(js_text, css_text, source)


def _template_literal(text: str, inside: int) -> str | None:
    """The value of the JS template literal (backquoted string) around ``inside``, with
    ``${...}`` substitutions (image URLs) replaced by ``none``."""
    start = text.rfind("`", 0, inside)
    if start < 0:
        return None
    out: list[str] = []
    escapes = {"n": "\n", "t": "\t", "r": "\r", "`": "`", "\\": "\\", "$": "$"}
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(escapes.get(text[i + 1], text[i + 1]))
            i += 2
        elif char == "`":
            break
        elif text.startswith("${", i):
            end = text.find("}", i)
            out.append("\0")
            i = end + 1
        else:
            out.append(char)
            i += 1
    css = "".join(out)
    return re.sub(r"url\(\s*['\"]?\0['\"]?\s*\)", "none", css).replace("\0", "none")
