"""Encryption at rest for secrets (auth tokens, keys, VoIP passwords).

FIELD_ENCRYPTION_KEY holds one or more comma-separated Fernet keys. The first key
encrypts; every key decrypts, so a key is rotated by putting the new one first,
running `manage.py rotate_encryption_key` (re-encrypts every secret with it), and
then dropping the old key.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# Stored values carry this prefix so a plaintext value can never pass for ciphertext.
PREFIX = "fernet:"


@cache
def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.FIELD_ENCRYPTION_KEY.split(",") if k.strip()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be comma-separated url-safe base64 Fernet keys "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        ) from exc


def encrypt(plaintext: str) -> str:
    return PREFIX + _fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("value is not encrypted")
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A secret could not be decrypted: FIELD_ENCRYPTION_KEY lacks the key it was "
            "encrypted with."
        ) from exc


def rotate(stored: str) -> str:
    """Re-encrypt with the first (newest) key."""
    return PREFIX + _fernet().rotate(stored[len(PREFIX) :].encode()).decode()


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; Python code sees plaintext.

    Never filter on it: ciphertexts differ on every save.
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
