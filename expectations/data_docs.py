"""How the gates' Data Docs site is built: pages kept, templates compiled once per process.

Every gate renders its own validation page into the site (``<lake>/gates/docs/``) from an
ephemeral GX context that holds only that gate's result. GX's default index builder would
then delete every page whose result is not in that context, that is every earlier gate's
page, which the feed manifests and the Dagster UI link to. ``PagesOnly`` builds no index
and removes nothing: the pages stay, and Dagster (each gate's check and asset metadata) is
the index.

GX's Jinja views make a fresh template environment for every site build, so each gate's
Data Docs re-parse and re-compile the same ~50 templates: about 0.3 s of every gate on a
2-core machine, most of a feed gate's own validation time. These views are GX's own page
views with an in-memory Jinja bytecode cache shared by all of them, so from the second gate
of a process on, rendering only renders. The HTML is the same. The gate's Data Docs site
names them in its config (``module_name`` / ``class_name``, GX's documented way to choose a
site's views); this module imports GX, so only GX imports it.

GX's pages load Bootstrap, jQuery, Font Awesome (and more) from CDNs, so offline they show
unstyled. Each page is rewritten once built (:func:`make_offline`): what it needs is copied
into the site under ``static/vendor/`` from Python packages (the XStatic packaging of
Bootstrap 4, jQuery 3.7.1 and Font Awesome 6; GX ships only its own styles and images) and
linked relatively; what it does not need (charts, table plugins, a date picker, a dark theme)
is dropped. :func:`index_page` is the site's front page: each gate's latest result per
partition, linking its page.
"""

from __future__ import annotations

import html
import re
import shutil
from collections import OrderedDict
from pathlib import Path

import jinja2
from great_expectations.render.renderer.site_builder import DefaultSiteIndexBuilder
from great_expectations.render.view import DefaultJinjaPageView


class _CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates kept in memory, keyed (by Jinja) on template name and source checksum."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}  # a dict's get and set are atomic: threads may share it

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = _CompiledTemplates()


class PageView(DefaultJinjaPageView):
    """GX's page view (suite and validation pages), with the shared compiled templates."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = TEMPLATES


class PagesOnly(DefaultSiteIndexBuilder):
    """An index builder that writes no index page and never removes a page (see the module)."""

    def build(self, skip_and_clean_missing: bool = True, build_index: bool = True):  # noqa: ARG002 (GX's signature)
        return None, OrderedDict()


VENDOR = "static/vendor"
# what GX's pages load from CDNs -> their copy in the site (relative to static/vendor/)
CDN_COPIES = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
    # Bootstrap's bundle holds Popper, which GX loads on its own
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/bootstrap.bundle.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
}
# GX's logo on its web assets host -> its copy among GX's own static images
LOGO = re.compile(
    r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/[A-Za-z_-]+\.png(\?[^\"')]*)?"
)
# GX's own links to the site's static/ folder (it counts one level short for validation pages)
STATIC = re.compile(r'(?<=")(?:\.\./)+static/')
TAGS = re.compile(
    r"<script\b[^>]*\bsrc=\"(https?://[^\"]+)\"[^>]*>\s*</script>|<link\b[^>]*\bhref=\"(https?://[^\"]+)\"[^>]*>"
)


def _vendor_files() -> dict[str, Path]:
    """Each file of static/vendor/ and where it comes from (the installed XStatic packages)."""
    import xstatic.pkg.bootstrap
    import xstatic.pkg.font_awesome
    import xstatic.pkg.jquery

    bootstrap, jquery, fonts = (
        Path(p.BASE_DIR) for p in (xstatic.pkg.bootstrap, xstatic.pkg.jquery, xstatic.pkg.font_awesome)
    )
    files = {
        "bootstrap/bootstrap.min.css": bootstrap / "css/bootstrap.min.css",
        "bootstrap/bootstrap.bundle.min.js": bootstrap / "js/bootstrap.bundle.min.js",
        "jquery/jquery.min.js": jquery / "jquery.min.js",
        "fontawesome/css/all.min.css": fonts / "css/all.min.css",
    }
    files.update({f"fontawesome/webfonts/{w.name}": w for w in sorted((fonts / "webfonts").glob("*.woff2"))})
    return files


def offline_html(page: str, to_root: str) -> str:
    """A GX page that loads nothing from the internet: CDN files from ``static/vendor/``, GX's logo
    from its static images, every link to ``static/`` at the page's depth (``to_root``: the
    relative way from the page to the site's root)."""

    def local(match: re.Match) -> str:
        url = match.group(1) or match.group(2)
        copy = CDN_COPIES.get(url)
        if copy is None:
            return ""  # not needed to read the page
        where = f"{to_root}{VENDOR}/{copy}"
        if match.group(1):
            return f'<script src="{where}"></script>'
        return f'<link rel="stylesheet" href="{where}">'

    page = STATIC.sub(f"{to_root}static/", TAGS.sub(local, page))
    return LOGO.sub(f"{to_root}static/images/logo-long.png", page)


def make_offline(site: str | Path, pages: list[str | Path]) -> None:
    """Copy the vendored files into the site (once) and rewrite ``pages`` to use them."""
    site = Path(site)
    for rel, source in _vendor_files().items():
        target = site / VENDOR / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    for page in map(Path, pages):
        depth = len(page.resolve().relative_to(site.resolve()).parts) - 1
        page.write_text(offline_html(page.read_text(encoding="utf-8"), "../" * depth), encoding="utf-8")


BADGES = {"passed": "success", "passed with warnings": "warning", "failed": "danger"}


def index_page(latest: list[dict], earlier: dict[tuple[str, str], int]) -> str:
    """The site's front page: per gate (suite), each partition's latest result and its page.

    ``latest``: result records (expectations/gate.py) with ``page``, their page relative to the
    site root; ``earlier``: per (suite, partition), how many older results there are."""
    sections = []
    for suite in sorted({r["suite"] for r in latest}):
        rows = []
        for r in sorted((r for r in latest if r["suite"] == suite), key=lambda r: r["result_id"], reverse=True):
            errors = sum(1 for f in r.get("failed", []) if f.get("severity") == "error")
            warnings = len(r.get("failed", [])) - errors
            link = f'<a href="{html.escape(r["page"])}">result</a>' if r.get("page") else ""
            older = earlier.get((suite, r["partition"]), 0)
            rows.append(
                "<tr>"
                f"<td>{html.escape(r['partition'])}</td>"
                f'<td><span class="badge badge-{BADGES.get(r["outcome"], "secondary")}">{html.escape(r["outcome"])}</span></td>'
                f"<td>{r.get('evaluated', '')}</td><td>{errors}</td><td>{warnings}</td>"
                f"<td>{html.escape(str(r.get('created_at', '')))}</td><td>{link}</td>"
                f"<td>{older or ''}</td></tr>"
            )
        sections.append(
            f'<h2 class="h4 mt-4">{html.escape(suite)}</h2>'
            '<table class="table table-sm table-striped"><thead><tr><th>partition</th><th>outcome</th>'
            "<th>expectations</th><th>errors</th><th>warnings</th><th>validated at</th><th>page</th>"
            f"<th>earlier results</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    body = "".join(sections) or '<p class="lead">No gate has run yet.</p>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><title>Quality gates: Data Docs</title>'
        f'<link rel="stylesheet" href="{VENDOR}/bootstrap/bootstrap.min.css">'
        '<link rel="shortcut icon" href="static/images/favicon.ico" type="image/x-icon"></head>'
        '<body><div class="container-fluid p-4"><h1 class="h3">Quality gates</h1>'
        "<p class=\"text-muted\">Each gate's latest result per partition (a supplier's feed, a window of order "
        "lines), newest first; the page shows every expectation, what it observed and why it passed or failed."
        f"</p>{body}</div></body></html>"
    )
