"""Request protections, on by default: CSRF, security headers, and limits on what a request may be.

- ``csrf``: a masked per-request token for unsafe methods (``check_csrf``, ``csrf_token``).
- ``headers``: the response headers computed once per app (``SecurityHeaders``).
- ``requests``: the Host allow-list, the header size limit and the JSON depth limit,
  each refusing a request with a 4xx and a message, never a 500.
- ``hosts``: the one reading of a request's host (Host, or a trusted proxy's
  X-Forwarded-Host), shared by the allow-list and ``sub()``.
"""

from .csrf import check_csrf, csrf_token
from .headers import SecurityHeaders
from .requests import RequestGuard, check_json_depth

__all__ = ["RequestGuard", "SecurityHeaders", "check_csrf", "check_json_depth", "csrf_token"]
