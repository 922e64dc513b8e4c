"""REST API for call records: GET /api/v1/call-records/ and /api/v1/call-records/{id}/.

Read-only; numbers, and numbers inside vendor texts, are masked like on the pages
unless the user holds accounts.view_full_numbers (core.serializers).  Filters are
callbacks.filters.CallRecordFilter, as on the page and the CSV export.
"""

from datetime import UTC

from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, viewsets

from callbacks.filters import CallRecordFilter
from callbacks.models import CallEvent, CallRecord
from core.serializers import MaskedNumberField, MaskedTextField


class _SafeDateTime(serializers.DateTimeField):
    """Times stored before they were bounded on arrival may not convert to the
    display zone (9999-12-31T23:59:59Z overflows in Asia/Shanghai): UTC then."""

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except serializers.ValidationError:
            return value.astimezone(UTC)


class _SafeTimes(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: _SafeDateTime,
    }


class CallEventSerializer(_SafeTimes):
    caller = MaskedNumberField(read_only=True)
    callee = MaskedNumberField(read_only=True)
    x_number = MaskedNumberField(read_only=True)
    state_text = MaskedTextField(read_only=True)

    class Meta:
        model = CallEvent
        fields = ["kind", "occurred_at", "caller", "callee", "x_number", "state_code", "state_text"]


class CallRecordSerializer(_SafeTimes):
    vendor_account = serializers.PrimaryKeyRelatedField(read_only=True)
    caller = MaskedNumberField(read_only=True)
    callee = MaskedNumberField(read_only=True)
    x_number = MaskedNumberField(read_only=True)
    # cyj's binding id is the X number; vendor texts and user data may carry numbers.
    vendor_binding_id = MaskedTextField(read_only=True)
    raw_text = MaskedTextField(read_only=True)
    user_data = MaskedTextField(read_only=True)
    binding = serializers.PrimaryKeyRelatedField(read_only=True)
    events = CallEventSerializer(many=True, read_only=True)
    has_recording = serializers.BooleanField(read_only=True)

    class Meta:
        model = CallRecord
        fields = [
            "id",
            "vendor_account",
            "vendor",
            "call_id",
            "binding",
            "vendor_binding_id",
            "caller",
            "callee",
            "x_number",
            "outcome",
            "raw_code",
            "raw_text",
            "call_at",
            "begin_at",
            "ring_at",
            "answer_at",
            "release_at",
            "duration",
            "release_side",
            "user_data",
            "has_cdr",
            "recording_status",
            "has_recording",
            "events",
        ]


class CallRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Call records (CDRs and the events received for each call)."""

    serializer_class = CallRecordSerializer
    queryset = CallRecord.objects.select_related("vendor_account").prefetch_related("events")
    # The list page's and the CSV export's filter set: same parameters, same search rule.
    filter_backends = [DjangoFilterBackend]
    filterset_class = CallRecordFilter
