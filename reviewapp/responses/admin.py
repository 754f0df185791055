from django.contrib import admin

from .models import (
    FeedbackEvent,
    IngestRun,
    ReferenceRecord,
    ReferenceSet,
    RejectedRecord,
    Response,
    Source,
)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "active", "embedding_dim", "created_at"]
    list_filter = ["kind", "active"]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["external_id", "source", "timestamp", "tier", "router_confidence"]
    list_filter = ["tier", "source"]
    search_fields = ["external_id"]
    date_hierarchy = "timestamp"
    show_full_result_count = False
    raw_id_fields = ["source"]
    exclude = ["embedding"]


@admin.register(FeedbackEvent)
class FeedbackEventAdmin(admin.ModelAdmin):
    list_display = ["external_id", "kind", "response_external_id", "timestamp"]
    list_filter = ["kind"]
    raw_id_fields = ["response"]


@admin.register(ReferenceSet)
class ReferenceSetAdmin(admin.ModelAdmin):
    list_display = ["name", "source", "embedding_dim", "created_at"]


@admin.register(ReferenceRecord)
class ReferenceRecordAdmin(admin.ModelAdmin):
    list_display = ["pk", "reference_set", "router_label", "router_confidence"]
    exclude = ["embedding"]


class RejectedRecordInline(admin.TabularInline):
    model = RejectedRecord
    extra = 0
    fields = ["line_number", "field", "reason", "raw"]
    readonly_fields = fields
    can_delete = False
    max_num = 0
    show_change_link = True


@admin.register(IngestRun)
class IngestRunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "source",
        "kind",
        "status",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
        "started_at",
    ]
    list_filter = ["status", "kind", "source"]
    readonly_fields = [f.name for f in IngestRun._meta.fields]
    inlines = [RejectedRecordInline]


@admin.register(RejectedRecord)
class RejectedRecordAdmin(admin.ModelAdmin):
    list_display = ["run", "line_number", "field", "reason"]
    list_filter = ["run__source"]
    search_fields = ["reason", "field"]
    readonly_fields = ["run", "line_number", "raw", "field", "reason", "created_at"]
