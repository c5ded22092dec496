"""The per-site key and the keyed fingerprints that replace every secret (DESIGN.md, "Secrets").

A parser that sees a password, token, community string or passcode calls
`SecretHasher.fingerprint` at once and keeps only the result: HMAC-SHA-256 under the site
key, so equal secrets compare equal within a site while a fingerprint cannot be reversed or
matched against another site's. The raw bytes never reach a record.

The key is 32 random bytes in a file created with mode 0600 on first use: `--key-file`, else
`$TRUSTWATCH_KEY_FILE`, else `$XDG_STATE_HOME/trustwatch/site.key` (`~/.local/state/...`).
Rotating it (delete or replace the file) changes every fingerprint: history in the state
database then no longer matches new sightings, so rotate together with a fresh state.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .records import SecretKind

KEY_BYTES = 32
KEY_ENV = "TRUSTWATCH_KEY_FILE"


class SiteKeyError(Exception):
    """The site key file exists but cannot be used; the message says why."""


def state_dir() -> Path:
    """`$XDG_STATE_HOME/trustwatch`, else `~/.local/state/trustwatch`: where trustwatch keeps
    what outlives a run (site key, state database)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "trustwatch"


def key_path(option: str | None = None) -> Path:
    """The key file in effect: the option, the environment, or the default."""
    return Path(option or os.environ.get(KEY_ENV) or state_dir() / "site.key")


def load_site_key(path: Path) -> bytes:
    """The key in `path`, created (mode 0600, parents 0700) if the file does not exist."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise SiteKeyError(f"{path}: cannot create the site key's directory: {e.strerror}") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as e:
        raise SiteKeyError(f"{path}: cannot create the site key: {e.strerror}") from None
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
    try:
        key = path.read_bytes()
    except OSError as e:
        raise SiteKeyError(f"{path}: cannot read the site key: {e.strerror}") from None
    if len(key) < 16:
        raise SiteKeyError(f"{path}: the site key is {len(key)} bytes, at least 16 are needed")
    return key


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a record may hold of a secret."""

    value: str
    """HMAC-SHA-256(site key, secret), lower-case hex."""
    hint: str
    """Kind and length, e.g. "password, 8 bytes": enough to triage, nothing to guess with."""


class SecretHasher:
    """Turns secrets into fingerprints; handed to every extractor by the dispatcher."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def fingerprint(self, kind: SecretKind, secret: bytes | str) -> Fingerprint:
        """The keyed fingerprint of `secret` (text is hashed as UTF-8)."""
        raw = secret.encode("utf-8", "surrogateescape") if isinstance(secret, str) else secret
        value = hmac.new(self._key, raw, hashlib.sha256).hexdigest()
        return Fingerprint(value, f"{kind.value}, {len(raw)} bytes")


EPHEMERAL = SecretHasher(secrets.token_bytes(KEY_BYTES))
"""A key that lives for this process only: for tests and tools that never compare runs."""
