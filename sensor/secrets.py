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

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .records import SecretKind

KEY_BYTES = 32
KEY_ENV = "TRUSTWATCH_KEY_FILE"


class SiteKeyError(Exception):
    """The site key file exists but cannot be used; the message says why."""


def data_home() -> Path:
    """`$XDG_STATE_HOME/trustwatch`, else `~/.local/state/trustwatch`: where trustwatch keeps
    what outlives a run (the site key here; the analytics keep their state database beside it)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "trustwatch"


def key_path(option: str | None = None) -> Path:
    """The key file in effect: the option, the environment, or the default."""
    return Path(option or os.environ.get(KEY_ENV) or data_home() / "site.key")


def load_site_key(path: Path, warn: Callable[[str], None] | None = None) -> bytes:
    """The key in `path`, created (mode 0600, parents 0700) if the file does not exist.

    Creation is atomic: the bytes go to a temporary file that is synced and then linked to
    `path`, so a full disk or a crash never leaves a short key behind, and of two runs
    starting at once one creates the key and both use it. A key that others may read is
    refused (world) or warned about through `warn` (group: a sensor and an analytics under
    two accounts of one group may share it)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise SiteKeyError(f"{path}: cannot create the site key's directory: {e.strerror}") from None
    if not path.exists():
        _create_key(path)
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            key = f.read()
    except OSError as e:
        raise SiteKeyError(f"{path}: cannot read the site key: {e.strerror}") from None
    if mode & 0o007:
        raise SiteKeyError(f"{path}: the site key is readable or writable by every user "
                           f"(mode {mode & 0o777:04o}); chmod 600 it, or rotate it if it may have leaked")
    if mode & 0o070 and warn is not None:
        warn(f"{path}: the site key is open to its group (mode {mode & 0o777:04o}); chmod 600 unless "
             "the group is trustwatch's own")
    if len(key) < 16:
        raise SiteKeyError(f"{path}: the site key is {len(key)} bytes, at least 16 are needed")
    return key


def _create_key(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # another run created it first: use that one
            os.link(tmp, path)
    except OSError as e:
        raise SiteKeyError(f"{path}: cannot create the site key: {e.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)


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
