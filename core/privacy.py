"""Keyed pseudonyms and the memory-hard participation hash: the only forms a Telegram user id takes.

- a respondent's pseudonym, HMAC-SHA256(PSEUDONYM_KEY, "<id>"), finds their response while it is linked;
- a researcher's, HMAC-SHA256(PSEUDONYM_KEY, "researcher:<id>"), finds their settings: a separate
  derivation, so RESEARCHER_IDS and researcher_settings never form a (Telegram id, stored value) pair
  that would test a guessed key or a respondent's pseudonym;
- the participation hash, scrypt("<id>", salt = HMAC(PSEUDONYM_KEY, "participants")), is all that is
  left once a response is unlinked: it tells a returning person from a new one and costs an attacker
  SCRYPT_COST per guessed id (bench/pseudonym_cost.py);
- the erasure marker, HMAC-SHA256(PSEUDONYM_KEY, "erased:<participation hash>"), is all that is left
  for UNLINK_AFTER_DAYS after /delete: a new response of that person is flagged as a repeat. Made
  from the participation hash, it costs an attacker the same scrypt per guessed id, and it never
  equals the participation hash itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

KEY_BYTES = 32
"""A key holds at least 256 bits."""
MIN_DISTINCT_BYTES = 12
"""32 random bytes have ~30 distinct values; fewer than this is a pattern, not a key."""
HEX_KEY = re.compile(r"[0-9a-fA-F]+")
BASE64_KEY = re.compile(r"[A-Za-z0-9_-]+={0,2}")
RESEARCHER_DOMAIN = "researcher:"
PARTICIPANT_DOMAIN = b"participants"
ERASURE_DOMAIN = "erased:"
SCRYPT_COST = {"n": 2**15, "r": 8, "p": 1}
"""32 MiB and about 80 ms of one core per hash here; bench/pseudonym_cost.py measures it."""
SCRYPT_MAXMEM = 64 * 1024 * 1024
KEY_HOWTO = "make one with `python -m bot keygen`"


class WeakKeyError(ValueError):
    """A key too short or too regular to be a 256-bit secret."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"{problem}; expected at least 256 random bits as 64 hex digits or 43 URL-safe base64 "
            f"characters ({KEY_HOWTO})"
        )


def key_bytes(key: str) -> bytes:
    """The key's bytes, decoded from hex or URL-safe base64; WeakKeyError when under 256 bits."""
    if HEX_KEY.fullmatch(key) and len(key) % 2 == 0:
        raw = bytes.fromhex(key)
    elif BASE64_KEY.fullmatch(key):
        try:
            raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        except (binascii.Error, ValueError):
            raise WeakKeyError("neither hex nor URL-safe base64") from None
    else:
        raise WeakKeyError("neither hex nor URL-safe base64")
    if len(raw) < KEY_BYTES:
        raise WeakKeyError(f"only {len(raw) * 8} bits")
    if len(set(raw)) < MIN_DISTINCT_BYTES:
        raise WeakKeyError("a repeated pattern, not a random key")
    return raw


def new_key() -> str:
    """A fresh key: 256 random bits as 64 hex digits."""
    return secrets.token_hex(KEY_BYTES)


def _hmac(key: str, message: str | bytes) -> bytes:
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(key.encode(), data, hashlib.sha256).digest()


def pseudonym(key: str, telegram_user_id: int) -> str:
    """A respondent's pseudonym: HMAC-SHA256 of the user id under the key, as 64 hex digits."""
    return _hmac(key, str(telegram_user_id)).hex()


def researcher_pseudonym(key: str, telegram_user_id: int) -> str:
    """A researcher's pseudonym, in a domain of its own (never equal to a respondent's)."""
    return _hmac(key, f"{RESEARCHER_DOMAIN}{telegram_user_id}").hex()


def participant_hash(key: str, telegram_user_id: int) -> str:
    """The memory-hard hash that recognises a returning person after unlinking, as 64 hex digits."""
    salt = _hmac(key, PARTICIPANT_DOMAIN)
    digest = hashlib.scrypt(
        str(telegram_user_id).encode(), salt=salt, maxmem=SCRYPT_MAXMEM, dklen=32, **SCRYPT_COST
    )
    return digest.hex()


def erasure_marker(key: str, participation_hash: str) -> str:
    """The marker an erasure leaves (see the module's docstring), as 64 hex digits."""
    return _hmac(key, f"{ERASURE_DOMAIN}{participation_hash}").hex()
