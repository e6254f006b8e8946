"""The server: one JSON API (``/api/v1``) over the same services as the CLI.

- ``app``: the FastAPI application, its middleware (security headers), error rendering
  (RFC 9457 problem details) and the API's docs page with assets from the package.
- ``auth``: who a request comes from (a bearer token, or a browser session with its
  CSRF token) and whether the route's action is allowed for that role.
- ``routes``: every endpoint. A route parses, checks access (its ``action``), calls a
  service inside one snapshot of the store, and renders; no query or rule lives in it.
- ``imports``: uploads streamed to disk and imported as jobs.

Run it with ``kuznia serve``.
"""
