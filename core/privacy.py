"""Keyed pseudonyms: the only form in which a Telegram user id reaches the database."""

from __future__ import annotations

import hashlib
import hmac


def pseudonym(key: str, telegram_user_id: int) -> str:
    """HMAC-SHA256 of the user id under the secret key, as 64 hex digits."""
    return hmac.new(key.encode(), str(telegram_user_id).encode(), hashlib.sha256).hexdigest()
