"""API plumbing shared by every endpoint: the one error shape, validated pagination.

Errors always look like {"message": "...", "extra": {...}}; validation errors put
field errors under extra.fields, so a client handles every failure one way.
"""

from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, pagination
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from core.filters import MAX_ID

# A page of the API; larger lists are read with offset.
MAX_PAGE_SIZE = 500


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = response.data
        if isinstance(detail, list):
            detail = {"non_field_errors": detail}
        response.data = {"message": "Validation error", "extra": {"fields": detail}}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        response.data = {"message": str(detail) or str(exc), "extra": {}}
    return response


class _PageParameters(forms.Form):
    limit = forms.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False)
    offset = forms.IntegerField(min_value=0, max_value=MAX_ID, required=False)


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's limit/offset, validated: a bad or huge value is a 400 naming it, where DRF
    would silently use the default (bad) or send it to SQL (huge: a 500)."""

    max_limit = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        params = _PageParameters(
            {
                name: request.query_params[name]
                for name in (self.limit_query_param, self.offset_query_param)
                if name in request.query_params
            }
        )
        if not params.is_valid():
            raise exceptions.ValidationError(
                {name: list(errors) for name, errors in params.errors.items()}
            )
        self._limit = params.cleaned_data["limit"]
        self._offset = params.cleaned_data["offset"]
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request):
        return self._limit or self.default_limit

    def get_offset(self, request):
        return self._offset or 0
