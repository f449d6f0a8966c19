from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.assignment import service
from api.deps import CurrentUser, SessionDep
from duban.models import Assignment


def valid_assignment(assignment_id: int, user: CurrentUser, session: SessionDep) -> Assignment:
    """The assignment, loaded through the user's scope: another unit's id is simply not found."""
    return service.get_visible(session, user=user, assignment_id=assignment_id)


ValidAssignment = Annotated[Assignment, Depends(valid_assignment)]
