"""Site networks (issue 16, point 4): given, from a site file, or derived from the inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustwatch.analytics.inventory import Asset, Inventory
from trustwatch.analytics.scope import SiteError, SiteScope, load_site_file


def inventory(*ips: str) -> Inventory:
    return Inventory.of(Asset(asset_id=f"A-{n}", ips=(ip,)) for n, ip in enumerate(ips))


def test_given_networks_in_cidr_or_single_addresses() -> None:
    scope = SiteScope.parse(["10.20.0.0/16", " 192.168.7.1 ", "fd00:1::/64"], "--site-networks")
    assert scope.contains("10.20.255.1") and scope.contains("192.168.7.1") and scope.contains("fd00:1::5")
    assert not scope.contains("10.21.0.1") and not scope.contains("192.168.7.2") and not scope.contains("x")
    assert scope.describe() == "10.20.0.0/16, 192.168.7.1/32, fd00:1::/64 (--site-networks)"


@pytest.mark.parametrize(("texts", "message"), [
    (["10.20.0.0/33"], "--site-networks: not a network (CIDR, e.g. 10.20.0.0/16): '10.20.0.0/33'"),
    (["ward-3"], "--site-networks: not a network (CIDR, e.g. 10.20.0.0/16): 'ward-3'"),
    ([], "--site-networks: no networks given"),
])
def test_bad_networks_are_named(texts: list[str], message: str) -> None:
    with pytest.raises(SiteError) as e:
        SiteScope.parse(texts, "--site-networks")
    assert str(e.value) == message


def test_default_is_the_private_blocks_of_the_inventory_and_link_local() -> None:
    scope = SiteScope.of_inventory(inventory("10.20.1.5", "172.20.0.9", "203.0.113.7"))
    assert [str(n) for n in scope.networks] == ["10.0.0.0/8", "172.16.0.0/12", "169.254.0.0/16", "fe80::/10"]
    assert scope.contains("10.99.0.1") and scope.contains("169.254.10.10") and scope.contains("fe80::1")
    # The inventory's public address is not enough to make the internet the site.
    assert not scope.contains("192.168.1.1") and not scope.contains("203.0.113.7") and not scope.contains("8.8.8.8")
    assert not scope.contains("192.0.2.80") and not scope.contains("fd00::1")


def test_a_dhcp_only_inventory_makes_every_private_block_the_site() -> None:
    scope = SiteScope.of_inventory(Inventory.of([Asset(asset_id="P-1", macs=("00-1B-4F-00-00-01",))]))
    assert all(scope.contains(ip) for ip in ("10.1.1.1", "172.31.0.1", "192.168.0.1", "fd12::1", "fe80::1"))
    assert not scope.contains("52.10.1.7")
    assert scope.origin.startswith("default: every private block")


def test_site_file(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("networks:\n  - 10.20.0.0/16\n  - 10.30.0.0/16\n")
    scope = load_site_file(site).scope
    assert scope is not None and load_site_file(site).roles == ()
    assert [str(n) for n in scope.networks] == ["10.20.0.0/16", "10.30.0.0/16"]
    assert scope.origin == f"{site}: networks"


@pytest.mark.parametrize(("text", "message"), [
    ("networks: 10.20.0.0/16\n", "networks: expected a list of networks"),
    ("networks: [10.20.0.0/16]\nwards: [3]\n", "unknown key 'wards' (expected networks, roles)"),
    ("- 10.20.0.0/16\n", "a site file is a mapping with `networks:`"),
    ("networks: [10.20.0.0/16, 10.300.0.0/16]\n", "networks: not a network (CIDR, e.g. 10.20.0.0/16): '10.300.0.0/16'"),
    ("networks: [unclosed\n", "cannot read the site file"),
])
def test_bad_site_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(text)
    with pytest.raises(SiteError) as e:
        load_site_file(site)
    assert str(e.value).startswith(str(site)) and message in str(e.value)
