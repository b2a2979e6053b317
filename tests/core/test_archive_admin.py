"""The archive-instead-of-delete admin base refuses a screen that forgets its history check."""

import pytest

from lastmile.core.admin_actions import ArchiveInsteadOfDeleteAdmin


def test_a_screen_without_its_history_check_or_delete_service_is_refused_at_definition():
    with pytest.raises(TypeError, match="history_of, delete_object"):

        class Forgetful(ArchiveInsteadOfDeleteAdmin):
            pass


def test_a_screen_with_both_hooks_is_accepted():
    class Complete(ArchiveInsteadOfDeleteAdmin):
        def history_of(self, obj):
            return []

        def delete_object(self, request, obj):
            return None

    assert Complete.required_hooks == ("history_of", "delete_object")
