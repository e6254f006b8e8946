"""The server: one JSON API (``/api/v1``) over the same services as the CLI.

- ``app``: the FastAPI application, its middleware (security headers), error rendering
  (as problem details) and the API's docs page with assets from the package.
- ``auth``: who a request comes from (a bearer token, or a browser session with its
  CSRF token) and whether the route's action is allowed for that role.
- ``api``: the endpoints, one router per resource. A route parses, checks access (its
  ``action``), calls a service inside one snapshot of the store, and renders; no query
  or rule lives in it. A figure is one function for its route and its pages.
- ``problems``: errors as RFC 9457 problem details, and their schema.
- ``uploads``: files sent for import, streamed to disk and imported as jobs.
- ``web``: the pages (HTML), thin over the same services and the API's figures.

Run it with ``kuznia serve``.
"""
