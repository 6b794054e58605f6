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
"""

from __future__ import annotations

from collections import OrderedDict

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
