"""The dispatch board's page and the JSON endpoints its script calls."""

from django.urls import path

from lastmile.dispatch import views

app_name = "dispatch"

urlpatterns = [
    path("board/", views.board, name="board"),
    path("board/data/", views.board_data_view, name="board_data"),
    path("board/plan/", views.board_plan, name="board_plan"),
    path("board/plans/<int:plan_id>/progress/", views.board_progress, name="board_progress"),
    path("board/plans/<int:plan_id>/cancel/", views.board_cancel, name="board_cancel"),
    path("board/plans/<int:plan_id>/publish/", views.board_publish, name="board_publish"),
    path("board/plans/<int:plan_id>/replan/", views.board_replan, name="board_replan"),
    path("board/stops/<int:stop_id>/move/", views.board_move, name="board_move"),
]
