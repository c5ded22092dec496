"""The site's trust material: serials and issuers compared in any notation, bad lists refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.analytics.builders import cert
from trustwatch.analytics.trust import TrustList, issuer_key, serial_key


def test_serials_and_issuers_in_any_notation() -> None:
    assert serial_key("0x00:1a:2B") == serial_key("1A2B") == "1A2B"
    assert serial_key("000") == "0"
    assert issuer_key("CN=Device CA, O=St. Example") == issuer_key("CN=Device CA,O=St. Example")
    with pytest.raises(ValueError):
        serial_key("G1")


def test_revoked_and_untrusted() -> None:
    leaf = replace(cert("pump-7"), serial="1A2B")
    trust = TrustList.of({"CN=St. Example Device CA": ["0x1a2b"]}, [], [], ["CN=Other CA"])
    assert trust.revoked(leaf) == "serial 1A2B revoked by CN=St. Example Device CA (rules)"
    assert trust.untrusted([leaf]) == "issued by CN=St. Example Device CA, outside the site's trust list"
    assert TrustList().revoked(leaf) is None and TrustList().untrusted([leaf]) is None
    with pytest.raises(ValueError, match="64 hex digits"):
        TrustList.of({}, ["abc"], [], [])
