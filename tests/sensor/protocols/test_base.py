"""What every extractor inherits: when it is finished, and how its secrets become fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from trustwatch.sensor.flowid import Direction, FlowId
from trustwatch.sensor.protocols.base import Extractor, secret_fields
from trustwatch.sensor.records import Observation, SecretKind
from trustwatch.sensor.secrets import EPHEMERAL


class Counting(Extractor):
    """Counts every call as a message."""

    name = "counting"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset()
    budget = 64
    max_messages = 3

    @staticmethod
    def probe(first: bytes) -> bool:
        return True

    def parse(self, flow: FlowId, direction: Direction, ts: float, buf: bytes
              ) -> tuple[Sequence[Observation], int]:
        self.count_message()
        return [], len(buf)


def test_finished_once_done_is_set() -> None:
    ext = Counting()
    assert not ext.finished
    ext.done = True
    assert ext.finished


def test_finished_after_max_messages() -> None:
    ext = Counting()
    seen = []
    for _ in range(4):
        seen.append(ext.finished)
        ext.count_message()
    assert seen == [False, False, False, True] and ext.messages == 4


def test_secret_fields_with_and_without_a_fingerprint() -> None:
    fp = EPHEMERAL.fingerprint(SecretKind.PASSWORD, b"hunter2")
    assert secret_fields(SecretKind.PASSWORD, fp) == {
        "secret_kind": SecretKind.PASSWORD, "secret_fp": fp.value, "secret_hint": "password, 7 bytes"}
    assert secret_fields(SecretKind.HASH, None) == {"secret_kind": SecretKind.HASH, "secret_fp": None,
                                                    "secret_hint": None}
