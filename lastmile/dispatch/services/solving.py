"""TODO docstring."""

from __future__ import annotations

import logging

from lastmile.core.errors import ApplicationError
from lastmile.dispatch.errors import DispatchErrorCode

logger = logging.getLogger(__name__)


class InfeasiblePlan(ApplicationError):
    """The solver's plan breaks a rule the independent checker enforces; it is not stored."""

    code = DispatchErrorCode.INFEASIBLE_PLAN
    status = 409
    title = "The plan breaks a constraint"
