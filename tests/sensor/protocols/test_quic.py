"""QUIC extractor: the RFC 9001 Appendix A client Initial, every truncation, garbage, fuzzing
(also behind a valid AEAD tag), CRYPTO reassembly over packets and datagrams, and the real
captures against tshark / FoxIO / nDPI / suricata-verify.

The JA3 of the RFC packet was checked against tshark 4.0.17 while developing: the 1200 bytes
were written into a pcap with scapy (10.0.0.1:50000 -> 10.0.0.2:443/udp) and `tshark -T
fields -e tls.handshake.ja3_full -e tls.handshake.ja3` printed exactly the values asserted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REAL_PCAPS, needs_real_pcaps
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.quic import (
    DRAFT_29,
    MAX_CRYPTO,
    VERSION_1,
    QuicExtractor,
    client_initial_keys,
    decode_packet_number,
)
from trustwatch.sensor.protocols.tls import DtlsExtractor, TlsExtractor
from trustwatch.sensor.records import Observation, Proto, TlsClientHello
from trustwatch.sensor.sense import Sensor

ORIG, RESP = Direction.ORIG, Direction.RESP
FLOW = FlowId(uid="Cquic1", transport="udp", orig=Endpoint("10.0.0.1", 50000),
              resp=Endpoint("10.0.0.2", 443))


def h(text: str) -> bytes:
    """Hex with spaces and comments allowed (everything after # on a line is dropped)."""
    return bytes.fromhex("".join(line.split("#")[0] for line in text.splitlines()))


def varint(n: int) -> bytes:
    """A QUIC variable-length integer (RFC 9000 16), in the shortest form up to 4 bytes."""
    if n < 0x40:
        return bytes([n])
    if n < 0x4000:
        return (0x4000 | n).to_bytes(2, "big")
    return (0x80000000 | n).to_bytes(4, "big")


def crypto(offset: int, data: bytes) -> bytes:
    """A CRYPTO frame (RFC 9000 19.6): type 0x06, offset, length, data."""
    return b"\x06" + varint(offset) + varint(len(data)) + data


def protect(payload: bytes, dcid: bytes, pn: int = 0, *, version: int = VERSION_1,
            pn_len: int = 4, scid: bytes = b"", token: bytes = b"", key_cid: bytes | None = None,
            ptype: int = 0) -> bytes:
    """A client Initial carrying `payload` (frames), protected as RFC 9001 5.3/5.4 say,
    with the keys of `key_cid` (default: this packet's DCID). Checked against the RFC's
    own example below."""
    first = 0xC0 | (ptype << 4) | (pn_len - 1)
    pn_bytes = pn.to_bytes(pn_len, "big")
    header = (bytes([first]) + version.to_bytes(4, "big") + bytes([len(dcid)]) + dcid
              + bytes([len(scid)]) + scid + (varint(len(token)) + token if ptype == 0 else b"")
              + (0x4000 | (pn_len + len(payload) + 16)).to_bytes(2, "big") + pn_bytes)
    key, iv, hp = client_initial_keys(key_cid if key_cid is not None else dcid, version)
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    sealed = AESGCM(key).encrypt(nonce, payload, header)
    sample = sealed[4 - pn_len : 4 - pn_len + 16]
    mask = Cipher(algorithms.AES(hp), modes.ECB()).encryptor().update(sample)
    pn_at = len(header) - pn_len
    masked = bytes(b ^ m for b, m in zip(pn_bytes, mask[1:], strict=False))
    return bytes([first ^ (mask[0] & 0x0F)]) + header[1:pn_at] + masked + sealed


def parse_all(ext: QuicExtractor, datagrams: Sequence[bytes], direction: Direction = ORIG
              ) -> list[Observation]:
    """Feed whole datagrams (as the dispatcher does for UDP); each must be consumed whole."""
    out: list[Observation] = []
    for dgram in datagrams:
        found, used = ext.parse(FLOW, direction, 0.0, dgram)
        assert used == len(dgram)
        out.extend(found)
    return out


# --- 1. the RFC 9001 Appendix A.2 client Initial ------------------------------------------

RFC_DCID = h("8394c8f03e515708")
RFC_CLIENT_HELLO = h("""
01 0000ed                     # handshake: ClientHello, 237 bytes
0303                          # legacy_version TLS 1.2
ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c  # random
00                            # legacy_session_id: empty
0004 1301 1302                # cipher_suites: AES128-GCM, AES256-GCM (TLS 1.3)
01 00                         # compression_methods: null
00c0                          # extensions: 192 bytes
0000 0010 000e 00 000b 6578616d706c652e636f6d  # server_name: host_name "example.com"
ff01 0001 00                  # renegotiation_info: empty
000a 0008 0006 001d 0017 0018 # supported_groups: x25519, secp256r1, secp384r1
0010 0007 0005 04 616c706e    # ALPN: "alpn"
0005 0005 01 0000 0000        # status_request: OCSP
0033 0026 0024 001d 0020      # key_share: x25519, 32 bytes
  9370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994ec74d748
002b 0003 02 0304             # supported_versions: TLS 1.3
000d 0010 000e 0403 0503 0603 0203 0804 0805 0806  # signature_algorithms
002d 0002 01 01               # psk_key_exchange_modes: psk_dhe_ke
001c 0002 4001                # record_size_limit: 16385
0039 0032                     # quic_transport_parameters: 50 bytes
  0408ffffffffffffffff 05048000ffff 07048000ffff 0801 10 01048000 7530
  0901 10 0f08 8394c8f03e515708 0604 8000ffff
""")
RFC_PLAINTEXT = crypto(0, RFC_CLIENT_HELLO) + bytes(917)  # CRYPTO frame, then PADDING
RFC_PACKET = h("""
c0                            # long header, fixed bit, Initial; PN length masked (RFC A.2)
00000001                      # version 1
08 8394c8f03e515708           # Destination Connection ID: derives the keys
00                            # Source Connection ID: empty
00                            # token: empty
449e                          # length: 1182 (packet number + payload + AEAD tag)
7b9aec34                      # packet number 2, masked by header protection
# AES-128-GCM payload (1162 bytes of frames) and its 16-byte tag:
d1b1c98dd7689fb8ec11d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c8eb7539ec4d4905fed1bee
1fc8aafba17c750e2c7ace01e6005f80fcb7df621230c83711b39343fa028cea7f7fb5ff89eac2308249a0
2252155e2347b63d58c5457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c2084d
ce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec4e15daf8500a6ef69ec4e3fe
b6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8
e30c5c4287e53805db059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c7b43
78e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f89937f5a67258bf63ad6f1a0b1d
96dbd4faddfcefc5266ba6611722395c906556be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcb
c2c7468d54119c7468449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663ac69890
f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00f064c99e3dd97911d39fe9c5d0b2
3a229a234cb36186c4819e8b9c5927726632291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fc
b5699dbfe5896425c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd14de71e6
c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ffef132eef2fa09346aee33c28eb130f
f28f5b766953334113211996d20011a198e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b
19f5984009ddc324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73203a4a13e9
6f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77fcb2c0e0eb605cb0504db87632cf3d8b4
dae6e705769d1de354270123cb11450efc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33b
d801b03adea2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e72404790a2181014f3
b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2162f40a29f0c3c8745c0f50fba3852e566
d44575c29d39a03f0cda721984b6f440591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b6
5bfc5ca06948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e8f2e6ff5800175
f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0be79e2fb8f5d5fbbe2e30ecadd220723c8c0
aea8078cdfcb3868263ff8f0940054da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85
194aab760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9f96f3ca9ec1dde43
4da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4056df31bd267b6b90a079831aaf579be0a3901
3137aac6d404f518cfd46840647e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f947
4241e221af44860018ab0856972e194cd934
""")
RFC_JA3 = "771,4865-4866,0-65281-10-16-5-51-43-13-45-28-57,29-23-24,"  # tshark: same
RFC_JA3_MD5 = "41bc9ae914d6cb3bd0bd0a5453ab7d7f"  # tshark tls.handshake.ja3


def test_rfc9001_initial_keys() -> None:
    """RFC 9001 A.1: the client's key, iv and hp for DCID 0x8394c8f03e515708."""
    key, iv, hp = client_initial_keys(RFC_DCID, VERSION_1)
    assert key == h("1f369613dd76d5467730efcbe3b1a22d")
    assert iv == h("fa044b2f42a3fd3b46fb255c")
    assert hp == h("9f50449e04a0e810283a1e9933adedd2")


def test_rfc9001_client_initial() -> None:
    assert len(RFC_PACKET) == 1200
    assert QuicExtractor.probe(RFC_PACKET)
    ext = QuicExtractor()
    found, used = ext.parse(FLOW, ORIG, 1.5, RFC_PACKET)
    assert used == 1200 and ext.weirds == [] and ext.finished
    (hello,) = found
    assert hello == TlsClientHello(
        ts=1.5, flow=FLOW, protocol=Proto.QUIC, server_name="example.com", alpn=("alpn",),
        versions=("1.3",), ja3=RFC_JA3, ja3_hash=RFC_JA3_MD5,
        ja4="q13d0211an_62ed6f6ca7ad_4d634acda6c0")
    # The same ClientHello over TCP: only JA4's first letter differs.
    (tcp_hello,) = TlsExtractor().parse(
        FLOW, ORIG, 0.0, b"\x16\x03\x01" + len(RFC_CLIENT_HELLO).to_bytes(2, "big")
        + RFC_CLIENT_HELLO)[0]
    assert isinstance(tcp_hello, TlsClientHello)
    assert tcp_hello.ja4 == "t" + hello.ja4[1:] and tcp_hello.ja3 == hello.ja3


def test_protect_helper_reproduces_rfc_packet() -> None:
    """The test helper that builds the other fixtures is the RFC's own algorithm."""
    assert protect(RFC_PLAINTEXT, RFC_DCID, pn=2) == RFC_PACKET


def test_packet_number_decoding() -> None:
    """RFC 9000 A.3's example, and the first packets of a connection."""
    assert decode_packet_number(0xA82F30EA, 0x9B32, 16) == 0xA82F9B32
    assert decode_packet_number(-1, 2, 32) == 2
    assert decode_packet_number(255, 0, 8) == 256


# --- 2. every truncation is skipped, never an error ----------------------------------------


def test_every_truncation_is_skipped() -> None:
    assert QuicExtractor().parse(FLOW, ORIG, 0.0, b"") == ([], 0)
    for cut in range(1, len(RFC_PACKET)):
        ext = QuicExtractor()
        assert ext.parse(FLOW, ORIG, 0.0, RFC_PACKET[:cut]) == ([], cut), cut
        assert not ext.finished
        assert set(ext.weirds) <= {"quic_truncated_packet", "quic_packet_too_short",
                                   "quic_decrypt_failed"}, cut


def test_truncated_datagram_then_whole_one() -> None:
    """A cut copy (snaplen) is counted; the retransmission is still read."""
    ext = QuicExtractor()
    assert parse_all(ext, [RFC_PACKET[:600]]) == []
    assert ext.weirds == ["quic_truncated_packet"]
    assert len(parse_all(ext, [RFC_PACKET])) == 1


@pytest.mark.parametrize("cut", [1, 4, 5, 100, 236, 240])
def test_client_hello_cut_between_initials_waits(cut: int) -> None:
    """CRYPTO data missing at the end: nothing yet, then everything once it arrives."""
    first = protect(crypto(0, RFC_CLIENT_HELLO[:cut]) + bytes(1000), RFC_DCID, 0)
    second = protect(crypto(cut, RFC_CLIENT_HELLO[cut:]) + bytes(1000), RFC_DCID, 1)
    ext = QuicExtractor()
    assert parse_all(ext, [first]) == [] and not ext.finished
    (hello,) = parse_all(ext, [second])
    assert isinstance(hello, TlsClientHello) and hello.server_name == "example.com"
    assert ext.finished and ext.weirds == []


# --- 3. garbage raises ParseError; what is not a client Initial is skipped ----------------


def _bad_cid() -> bytes:
    return h("c3 00000001 15") + bytes(21) + h("00 00 4100") + bytes(300)


@pytest.mark.parametrize(("dgram", "weird"), [
    (_bad_cid(), "quic_bad_cid_len"),  # a v1 connection ID is at most 20 bytes
    # Behind a valid tag: a CRYPTO frame longer than the packet
    (protect(h("06 00 4400") + bytes(100), RFC_DCID), "quic_bad_frame"),
    # an ACK frame cut short
    (protect(h("02 00 00 05"), RFC_DCID), "quic_bad_frame"),
    # the client's CRYPTO stream must open with a ClientHello, not a ServerHello
    (protect(crypto(0, h("02 000004 03030000")) + bytes(50), RFC_DCID), "quic_not_client_hello"),
    # a complete ClientHello message whose body is junk
    (protect(crypto(0, h("01 000003 030300")) + bytes(50), RFC_DCID), "quic_bad_client_hello"),
    # CRYPTO data beyond the reassembly bound
    (protect(crypto(MAX_CRYPTO, b"x") + bytes(50), RFC_DCID), "quic_crypto_too_large"),
    (protect(crypto(0, h("01 ffffff")) + bytes(50), RFC_DCID), "quic_crypto_too_large"),
    # 65 disjoint CRYPTO ranges waiting for their gaps
    (protect(b"".join(crypto(10 + 2 * i, b"x") for i in range(65)), RFC_DCID),
     "quic_too_many_crypto_ranges"),
])
def test_garbage_raises(dgram: bytes, weird: str) -> None:
    with pytest.raises(ParseError, match=f"^{weird}$"):
        QuicExtractor().parse(FLOW, ORIG, 0.0, dgram)


@pytest.mark.parametrize("dgram", [
    h("40 0102030405060708 0000"),                          # short header: 1-RTT
    h("c0 00000000 08 0102030405060708 00 6b3343cf"),       # version negotiation
    h("d0 6b3343cf 08 0102030405060708 00 00 4100") + bytes(64),  # QUIC v2: not read
    h("e3 00000001 08 0102030405060708 00 4014") + bytes(20),  # a Handshake packet
    h("f0 00000001 00 08 0102030405060708") + bytes(40),    # Retry
    b"\x16\xfe\xfd" + bytes(30),                             # DTLS
])
def test_not_a_client_initial_is_skipped_silently(dgram: bytes) -> None:
    ext = QuicExtractor()
    assert ext.parse(FLOW, ORIG, 0.0, dgram) == ([], len(dgram))
    assert ext.weirds == [] and not ext.finished


def test_undecryptable_initial_is_a_weird() -> None:
    tampered = bytearray(RFC_PACKET)
    tampered[-1] ^= 1  # the AEAD tag
    ext = QuicExtractor()
    assert parse_all(ext, [bytes(tampered)]) == []
    assert ext.weirds == ["quic_decrypt_failed"]
    ext.weirds.clear()
    assert len(parse_all(ext, [RFC_PACKET])) == 1


def test_unknown_frame_stops_the_packet_not_the_flow() -> None:
    """A DATAGRAM frame (0x30, RFC 9221) has no place in an Initial: what came before it
    counts, the rest of the packet cannot be walked."""
    dgram = protect(crypto(0, RFC_CLIENT_HELLO) + h("30 0102") + bytes(900), RFC_DCID)
    ext = QuicExtractor()
    assert len(parse_all(ext, [dgram])) == 1
    assert ext.weirds == ["quic_unknown_frame"]


# --- 4. fuzzing: nothing but ParseError("quic_...") ---------------------------------------

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _feed(datagrams: Sequence[tuple[Direction, bytes]]) -> None:
    ext = QuicExtractor()
    for direction, dgram in datagrams:
        try:
            found, used = ext.parse(FLOW, direction, 0.0, dgram)
        except ParseError as e:
            assert str(e).startswith("quic_")
            return
        assert used == len(dgram)
        assert all(isinstance(o, TlsClientHello) for o in found)
    assert ext.close(FLOW, 1.0) == ()


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([ORIG, RESP]), st.binary(max_size=300)), max_size=6))
def test_fuzz_binary(datagrams: list[tuple[Direction, bytes]]) -> None:
    _feed(datagrams)
    _feed([(d, h("c0 00000001") + b) for d, b in datagrams])  # past the version check


def _apply(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        out[pos] = value
    return bytes(out)


def _mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """`data` with a few bytes overwritten (lengths, types, values)."""
    return st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)),
                    min_size=1, max_size=4).map(lambda edits: _apply(data, edits))


@FUZZ
@given(_mutated(RFC_PACKET[:64]))
def test_fuzz_mutated_header(head: bytes) -> None:
    _feed([(ORIG, head + RFC_PACKET[64:])])


@FUZZ
@given(_mutated(crypto(0, RFC_CLIENT_HELLO) + h("02 05 00 01 00 03 0102") + bytes(8)))
def test_fuzz_frames_behind_a_valid_tag(frames: bytes) -> None:
    """The frame and ClientHello parsers see attacker-chosen plaintext: the keys are public."""
    _feed([(ORIG, protect(frames, RFC_DCID))])


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_binary_behind_a_valid_tag(frames: bytes) -> None:
    _feed([(ORIG, protect(frames + bytes(4), RFC_DCID))])


# --- CRYPTO reassembly, coalescing, directions, versions ----------------------------------


def test_chrome_style_split_and_shuffled_crypto_frames() -> None:
    """Chrome cuts its ClientHello into small CRYPTO frames, sends them out of order and
    spreads them over two Initials (two datagrams), with PING/PADDING in between."""
    pieces = [(i, RFC_CLIENT_HELLO[i : i + 20]) for i in range(0, len(RFC_CLIENT_HELLO), 20)]
    random.Random(7).shuffle(pieces)
    half = len(pieces) // 2
    one = b"".join(h("01 00") + crypto(off, data) for off, data in pieces[:half])
    two = b"".join(crypto(off, data) for off, data in pieces[half:]) + crypto(0, b"\x01")
    ext = QuicExtractor()
    assert parse_all(ext, [protect(one + bytes(800), RFC_DCID, 0, scid=h("aabbccdd"))]) == []
    (hello,) = parse_all(ext, [protect(two + bytes(800), RFC_DCID, 1, scid=h("aabbccdd"))])
    assert isinstance(hello, TlsClientHello) and hello.ja3_hash == RFC_JA3_MD5
    assert ext.weirds == [] and ext.finished


def test_coalesced_packets_in_one_datagram() -> None:
    """Two Initials then a Handshake packet (RFC 9000 12.2) in one datagram."""
    cut = 120
    dgram = (protect(h("02 00 00 00 00") + crypto(0, RFC_CLIENT_HELLO[:cut]), RFC_DCID, 0)
             + protect(crypto(cut, RFC_CLIENT_HELLO[cut:]), RFC_DCID, 1, pn_len=1)
             + h("e0 00000001 08") + RFC_DCID + h("00 4014") + bytes(20))
    (hello,) = parse_all(QuicExtractor(), [dgram])
    assert isinstance(hello, TlsClientHello) and hello.server_name == "example.com"


def test_server_side_and_later_dcid() -> None:
    """The server's Initials use other keys and are skipped once the client is known; the
    client's next Initial carries the server's connection ID but the first DCID's keys."""
    server_cid = h("f067a5502a4262b5")
    ext = QuicExtractor()
    first = protect(crypto(0, RFC_CLIENT_HELLO[:50]) + bytes(900), RFC_DCID, 0)
    assert parse_all(ext, [first]) == []
    server = protect(h("02 00 00 00 00") + bytes(100), server_cid, 0)  # not client keys
    assert parse_all(ext, [server], RESP) == [] and ext.weirds == []
    later = protect(crypto(50, RFC_CLIENT_HELLO[50:]) + bytes(900), server_cid, 1,
                    key_cid=RFC_DCID)
    assert len(parse_all(ext, [later])) == 1 and ext.weirds == []


def test_after_retry_the_new_dcid_keys_are_used() -> None:
    retry_cid = h("0011223344556677")
    ext = QuicExtractor()
    assert parse_all(ext, [protect(crypto(0, RFC_CLIENT_HELLO[:9]) + bytes(900), RFC_DCID)]) == []
    # After a Retry the client starts over: new DCID, new keys, the whole ClientHello again.
    again = protect(crypto(0, RFC_CLIENT_HELLO) + bytes(900), retry_cid, 1, token=b"retry-token")
    (hello,) = parse_all(ext, [again])
    assert isinstance(hello, TlsClientHello) and ext.weirds == []


def test_draft_29_initial() -> None:
    dgram = protect(crypto(0, RFC_CLIENT_HELLO) + bytes(900), RFC_DCID, version=DRAFT_29)
    assert QuicExtractor.probe(dgram)
    (hello,) = parse_all(QuicExtractor(), [dgram])
    assert isinstance(hello, TlsClientHello) and hello.ja4.startswith("q13d")


def test_nothing_is_read_after_the_client_hello() -> None:
    ext = QuicExtractor()
    parse_all(ext, [RFC_PACKET])
    assert ext.finished
    assert ext.parse(FLOW, ORIG, 0.0, RFC_PACKET) == ([], len(RFC_PACKET))


@pytest.mark.parametrize(("first", "fires"), [
    (RFC_PACKET[:8], True),
    (h("c3 ff00001d 08 0102030405060708"), True),                   # draft-29 Initial
    (h("e3 00000001 08 0102030405060708"), False),                  # Handshake
    (h("40 0102030405060708"), False),                              # short header
    (h("c3 00000001 15") + bytes(21), False),                       # CID length 21
    (h("c3 6b3343cf 08 0102030405060708"), False),                  # QUIC v2
    (h("16 fefd 0000 000000000000 0100"), False),                   # DTLS 1.2 handshake
    (h("0001 0000 2112a442 000102030405060708090a0b"), False),      # STUN binding request
    (h("80 00 0001 00000000 deadbeef"), False),                     # RTP
    (h("c000 0100 0001 0000 0000 0000"), False),                    # DNS query id 0xc000
    (h("c3 00000001"), False),                                      # too short to tell
])
def test_probe(first: bytes, fires: bool) -> None:
    assert QuicExtractor.probe(first) is fires


# --- real captures (never copied here) ----------------------------------------------------

# tshark 4.0.17: `tshark -r F -Y "quic && tls.handshake.type==1" -T fields -e udp.srcport
# -e tls.handshake.extensions_server_name -e tls.handshake.ja3`. Chrome permutes its
# extensions per connection, so each QUIC ClientHello has its own JA3.
CHROME_QUIC = {
    59102: ("www.google.com", "0cda1bd7f270e894ed5de2af2f06cb80"),
    57816: ("accounts.google.com", "84c89f4892d37e485be635148acfedd2"),
    55945: ("www.googleapis.com", "964fec70d3907f0ea31ba945d1058f6c"),
    49333: ("update.googleapis.com", "7e0b782a912375f8aca23ae02aa4e670"),
    57662: ("encrypted-tbn0.gstatic.com", "a4f5906dc21753588611460465e6ac86"),
    60486: ("history.google.com", "959e3c60439156dbf777166260e82fd3"),
    60845: ("www.gstatic.com", "4f4336b6289f6edad8757972be31862d"),
    55906: ("ogs.google.com", "410bc72d10506604b31a74b036fc4bab"),
    61836: ("aa.google.com", "63d3370f694a7c5a427b8cc4cb86171a"),
    59221: ("content-autofill.googleapis.com", "82c9dcb6bac0e92c1ed5969b6d76b138"),
    51905: ("encrypted-tbn0.gstatic.com", "87984ad968fae45a80e3062f2d65b6b1"),
    51782: ("safebrowsing.googleapis.com", "99ba4aa85ab41212c4aac60b7d57777c"),
    61730: ("scontent-iad3-2.xx.fbcdn.net", "7d68dd38b09d3178449205318d8ddd05"),
    54980: ("static.xx.fbcdn.net", "e36a24beaa62e6c8297a21f135a0bd96"),
    52166: ("www.facebook.com", "c0cbcd6baa4f1a265368088a28d0f7b9"),
    59444: ("static.xx.fbcdn.net", "3127762adb43bbc1c9961aebce8cd4ab"),
    60374: ("video-iad3-2.xx.fbcdn.net", "5210dc120c0359eda41dcc5462ad4d47"),
    55309: ("content-autofill.googleapis.com", "53733064a1266747836cf67be6b1b6ca"),
    50053: ("optimizationguide-pa.googleapis.com", "7112b2343b3a3adaddfa361c1dc6e300"),
    57188: ("lh5.googleusercontent.com", "b3f4ebd70054113e1b860c549ef080a7"),
}
CHROME_QUIC_JA4 = "q13d0310h3_55b375c5d22e_cd85d2d88918"
"""FoxIO's own output for all 20 QUIC streams of tls-handshake.pcapng (rust/ja4 snapshot
ja4__insta@tls-handshake.pcapng.snap); suricata-verify's ja4-rules expects it too."""


def _quic_hellos(path: Path) -> list[TlsClientHello]:
    sensor = Sensor(extractors=(TlsExtractor, DtlsExtractor, QuicExtractor))
    found = [o for o in sensor.read(str(path))
             if isinstance(o, TlsClientHello) and o.protocol == Proto.QUIC]
    bad = [w for w in sensor.weirds.counts if w.startswith(("quic_", "extractor_bug"))]
    assert bad == []
    return found


def _expected(name: str) -> Any:
    """The captures' reference record for `name` (tshark lists and peer baselines)."""
    assert REAL_PCAPS is not None
    return json.loads((Path(REAL_PCAPS) / "expected.json").read_text())[name]


@needs_real_pcaps
@pytest.mark.parametrize("name", ["foxio-ja4/pcap/tls-handshake.pcapng",
                                  "foxio-ja4/pcap/tls-sni.pcapng"])
def test_real_chrome_quic_matches_tshark_and_foxio(name: str) -> None:
    assert REAL_PCAPS is not None
    hellos = _quic_hellos(Path(REAL_PCAPS) / name)
    assert {o.flow.orig.port: (o.server_name, o.ja3_hash) for o in hellos} == CHROME_QUIC
    assert len(hellos) == len(CHROME_QUIC)
    assert {o.ja4 for o in hellos} == {CHROME_QUIC_JA4}
    tshark_ja3 = {j["ja3"] for j in _expected(name)["ja3"]}
    assert {o.ja3_hash for o in hellos} <= tshark_ja3


@needs_real_pcaps
def test_real_suricata_verify_ja4_rules() -> None:
    assert REAL_PCAPS is not None
    name = "suricata-verify/ja4-rules/input.pcap"
    (hello,) = _quic_hellos(Path(REAL_PCAPS) / name)
    assert (hello.server_name, hello.ja3_hash) == ("cloudflare-quic.com",
                                                   "3cbc33c648fe331404456f48a5a27170")  # tshark
    facts = _expected(name)["_meta"]["peer_baseline"]["suricata_verify"]["facts"]
    assert f"quic.ja4: {hello.ja4}" in facts


@needs_real_pcaps
def test_real_draft29_over_ppp() -> None:
    """nDPI's dlt_ppp.pcap: one draft-29 Initial on a PPP link. SNI and JA3 equal tshark's
    and nDPI's. JA4 parts b and c equal nDPI's; in part a the version is "00" as nDPI and
    FoxIO's reference have it (the highest offered value is draft 0x7f1c), but the ALPN is
    "hq-29", whose first and last characters are "h9" (FoxIO's spec and reference; nDPI
    prints "hq")."""
    assert REAL_PCAPS is not None
    name = "ndpi/tests/cfgs/default/pcap/dlt_ppp.pcap"
    (hello,) = _quic_hellos(Path(REAL_PCAPS) / name)
    assert (hello.server_name, hello.ja3_hash) == ("server4", "fe94e313a5d76fb687c85443cdfa8170")
    (flow,) = _expected(name)["_meta"]["peer_baseline"]["ndpi"]["flows"]
    assert hello.ja3_hash == flow["JA3C"]
    assert hello.ja4.split("_")[1:] == flow["JA4"].split("_")[1:]
    assert hello.ja4 == "q00d0308h9_55b375c5d22e_23ed935430f2"
    assert hello.alpn == ("hq-29",)
