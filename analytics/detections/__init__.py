"""The detections: one module per rule family, each with RULE_ID, Params and detect();
`base` holds what they share.

A new detection is a new module added to `DETECTIONS` and a rule in rules/*.yaml; the
engine (`analytics.pipeline`) needs no change.
"""

from __future__ import annotations

from . import (
    cleartext_credential,
    credential_outlives,
    default_credential,
    default_credential_attempt,
    expired_certificate,
    expired_credential_accepted,
    failed_authentication_burst,
    identity_mismatch,
    long_lived_certificate,
    long_lived_token,
    remote_access_unapproved,
    retired_device,
    shared_credential,
    unknown_device,
    unrotated_credential,
    weak_certificate,
)
from .base import Context, Detection

DETECTIONS: tuple[Detection, ...] = (
    shared_credential,
    unknown_device,
    retired_device,
    credential_outlives,
    identity_mismatch,
    weak_certificate,
    expired_certificate,
    long_lived_certificate,
    long_lived_token,
    cleartext_credential,
    default_credential,
    failed_authentication_burst,
    expired_credential_accepted,
    unrotated_credential,
    default_credential_attempt,
    remote_access_unapproved,
)

__all__ = ["DETECTIONS", "Context", "Detection"]
