"""Admin search that follows the console's number-search rule (core.filters)."""

from django.db.models import Q

from core.filters import number_search


class CompleteNumberSearchMixin:
    """ModelAdmins list their phone-number columns in `number_search_fields` (and not
    in search_fields): users with accounts.view_full_numbers find rows by fragments
    of them, everyone else by a complete number only, as on the console's pages."""

    number_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term or not self.number_search_fields:
            return results, may_have_duplicates
        by_number = number_search(
            queryset,
            term,
            fields=self.number_search_fields,
            full_numbers=request.user.has_perm("accounts.view_full_numbers"),
        )
        if by_number is None:
            return results, may_have_duplicates
        return queryset.filter(Q(pk__in=results.values("pk")) | Q(pk__in=by_number.values("pk"))), (
            may_have_duplicates
        )
