"""Form helpers shared by the apps' pages."""

from django.core.exceptions import ValidationError


def apply_validation_error(form, exc: ValidationError) -> None:
    """Show a service's ValidationError on `form`: field errors on their fields,
    the rest (and errors for fields the form lacks) at the top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
