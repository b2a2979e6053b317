import pytest

from lastmile.core.errors import InvalidTransition
from lastmile.core.state import check_transition, validate_table

TABLE = {"draft": {"submitted"}, "submitted": {"approved", "rejected"}}


def test_allowed_move_passes():
    assert (
        check_transition(TABLE, entity="Application", current="draft", target="submitted") is True
    )


def test_repeating_the_current_state_is_a_no_op():
    assert (
        check_transition(TABLE, entity="Application", current="submitted", target="submitted")
        is False
    )


def test_illegal_move_raises_with_both_states():
    with pytest.raises(InvalidTransition) as excinfo:
        check_transition(TABLE, entity="Application", current="draft", target="approved")

    assert excinfo.value.status == 409
    assert excinfo.value.extra == {"entity": "Application", "from": "draft", "to": "approved"}


def test_a_table_naming_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match="unknown states"):
        validate_table(TABLE, {"draft", "submitted", "approved"})
