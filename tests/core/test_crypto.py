import pytest
from django.db import connection

from core import crypto
from tests.factories import VendorAccountFactory


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest():
    account = VendorAccountFactory(secret="plain-auth-token-123")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_vendoraccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert "plain-auth-token-123" not in stored
    assert stored.startswith(crypto.PREFIX)
    account.refresh_from_db()
    assert account.secret == "plain-auth-token-123"


def test_plaintext_is_never_taken_for_ciphertext():
    with pytest.raises(ValueError):
        crypto.decrypt("not-encrypted")
