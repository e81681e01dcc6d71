"""Request protections, on by default: CSRF, security headers, and limits on what a request may be.

- ``csrf``: a masked per-request token for unsafe methods (``check_csrf``, ``csrf_token``);
  which route keeps the check is the router's to say (``router.route_wants_csrf``).
- ``headers``: the response headers computed once per app (``SecurityHeaders``).
- ``requests``: the Host allow-list, the header size limit and the JSON depth limit,
  each refusing a request with a 4xx and a message, never a 500.
- ``hosts``: the one reading of a request's host (Host, or a trusted proxy's
  X-Forwarded-Host), shared by the allow-list and ``sub()``.
"""

# Nothing is imported here: importing ``porch.security.hosts`` runs this file
# first, and a facade importing every submodule would tie the host parsing
# (which the converters use) to the CSRF check (which needs the session).
