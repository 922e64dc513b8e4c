"""Filter sets of the sandbox's lists (its page and its JSON API)."""

import django_filters

from accounts.models import vendor_choices
from core import filters
from sandbox.models import SandboxBinding, SandboxCall, SandboxRequest


class RequestFilter(filters.ConsoleFilterSet):
    vendor = django_filters.ChoiceFilter(choices=vendor_choices)  # read per request
    # Verdicts are protocol constants the endpoints add to; free text, matched exactly.
    verdict = django_filters.CharFilter(max_length=32)

    class Meta:
        model = SandboxRequest
        fields: list[str] = []


class BindingFilter(filters.ConsoleFilterSet):
    state = django_filters.ChoiceFilter(choices=SandboxBinding.State.choices)
    account = filters.IdFilter()

    class Meta:
        model = SandboxBinding
        fields: list[str] = []


class CallFilter(filters.ConsoleFilterSet):
    status = django_filters.ChoiceFilter(choices=SandboxCall.Status.choices)
    account = filters.IdFilter()

    class Meta:
        model = SandboxCall
        fields: list[str] = []
