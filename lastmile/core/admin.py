"""Read-only view of queue heartbeats: which Celery queues have a live consumer."""

from django.contrib import admin

from lastmile.core.models import QueueHeartbeat


@admin.register(QueueHeartbeat)
class QueueHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["queue", "worker", "last_seen_at"]
    readonly_fields = ["queue", "worker", "last_seen_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
