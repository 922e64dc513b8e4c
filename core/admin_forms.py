"""Admin support for encrypted fields: write-only inputs that keep the stored value."""

from django import forms


class SecretFieldsAdminForm(forms.ModelForm):
    """Subclasses list `secret_fields`; those render as empty password inputs.

    Leaving one empty keeps the stored secret, so editing other fields never needs it.
    """

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            if name not in self.fields:
                continue
            field = self.fields[name]
            field.widget = forms.PasswordInput(render_value=False)
            field.initial = ""
            if self.instance.pk:
                field.required = False
                field.help_text = "Stored. Leave empty to keep it."

    def clean(self):
        cleaned = super().clean()
        for name in self.secret_fields:
            if self.instance.pk and not cleaned.get(name):
                # Keep the stored value: an empty input means "unchanged".
                cleaned[name] = getattr(self.instance, name)
        return cleaned
