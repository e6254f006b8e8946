"""The pages: server-rendered HTML (Jinja2, autoescaped) with htmx for partial updates and
charts drawn in the browser from the API's JSON (``static/kuznia.js``).

The pages are one more thin adapter over the services, beside the CLI and the API: each
page route declares the same access action as the API route it shows (``Allow``), reads
through the caller's scope, and renders. A figure the page shows is its API route's own
function (``figures.figure``), computed once per version of the data and shared with the
API: the chart's URL is built from that route, and its fetch finds the answer kept.

- ``base``: templates, the page router, what each role may open, errors as pages;
- ``figures``: overview, product, producer, board;
- ``evidence``: the uses behind a figure (sorted, summed, exported), a contract, a record;
- ``work``: planner, resilience, imports, field entry;
- ``licences``: the licence pipeline, and a partner's own page;
- ``oversight``: the watchdog page of red flags, a flag's page and its triage;
- ``portal``: the producers' portal: answers and replies on board blocks, offers;
- ``admin``: log in and out, audit, accounts;
- ``lang``: the language of a page, and the switch every page carries;
- ``vault``: the partners' documents for the producers a live licence names.
"""

from kuznia.server.web import (  # noqa: F401 - they add routes
    admin,
    evidence,
    figures,
    lang,
    licences,
    oversight,
    portal,
    vault,
    work,
)
from kuznia.server.web.base import pages, render_error

__all__ = ["pages", "render_error"]
