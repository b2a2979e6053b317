"""Error codes of the hubs app (values stable: clients and forms branch on them)."""

from lastmile.core.errors import BaseErrorCode


class HubErrorCode(BaseErrorCode):
    """Codes the hubs app gives; shared ones (``archived``) are ``core.errors.ErrorCode``."""

    INVALID_TIME_ZONE = "invalid_time_zone", "Not an IANA time zone name (e.g. Europe/Berlin)"
