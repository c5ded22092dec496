"""Observations as JSON lines shaped after the Elastic Common Schema, and back.

The only place that knows the JSON shape. Common fields: `@timestamp` (packet time),
`event.action`, `network.protocol`/`transport`/`vlan.id` (`network.inner.vlan.id` for the
second tag), `source.*` (the connection's client) and `destination.*` (its server),
`trustwatch.uid` and `trustwatch.evidence`. Each record type then maps its own fields to an
ECS name where ECS has one (`tls.client.server_name`, `tls.server.ja3s`,
`tls.client.hash.sha256`, `tls.client.x509.*`, `user.name`) and to `trustwatch.*` otherwise.
Whose identity a certificate is follows from `tls.client.*` vs `tls.server.*`.
"""

from __future__ import annotations

import functools
import math
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import IO, Any

import orjson

from .flowid import Direction, Endpoint, FlowId
from .records import (
    CERT_CACHE_SIZE,
    AuthenticationOutcome,
    CredentialSeen,
    DhcpLease,
    DicomAssociation,
    DnsAnswer,
    Evidence,
    Hl7Message,
    Observation,
    Proto,
    RemoteAccessSession,
    RemoteAccessSessionStart,
    TlsCertificate,
    TlsCertificateRequest,
    TlsClientCertificate,
    TlsClientHello,
    TlsEncryptedHandshake,
    TlsServerCertificate,
    TlsServerHello,
    X509Cert,
)

_SESSION_PATHS = {
    "vendor": "trustwatch.remote_access.vendor",
    "product": "trustwatch.remote_access.product",
    "direction": "network.direction",
    "matched_by": "trustwatch.remote_access.matched_by",
    "remote_name": "trustwatch.remote_access.remote_name",
    "user": "user.name",
    "client_software": "trustwatch.remote_access.client_software",
    "server_software": "trustwatch.remote_access.server_software",
    "hassh": "trustwatch.ssh.hassh",
    "hassh_server": "trustwatch.ssh.hassh_server",
    "security": "trustwatch.remote_access.security",
    "start": "trustwatch.remote_access.start",
    "end": "trustwatch.remote_access.end",
    "bytes_orig": "source.bytes",
    "bytes_resp": "destination.bytes",
    "attempt": "trustwatch.attempt",
}
"""A remote-access session's fields, the same at its start (live sensing) and at its end."""

FIELD_PATHS: dict[type[Observation], dict[str, str]] = {
    TlsClientHello: {
        "server_name": "tls.client.server_name",
        "alpn": "trustwatch.tls.alpn_offered",
        "versions": "trustwatch.tls.versions_offered",
        "ja3": "trustwatch.tls.ja3_string",
        "ja3_hash": "tls.client.ja3",
        "ja4": "trustwatch.tls.ja4",
    },
    TlsServerHello: {
        "version": "tls.version",
        "cipher": "tls.cipher",
        "alpn": "tls.next_protocol",
        "ja3s": "trustwatch.tls.ja3s_string",
        "ja3s_hash": "tls.server.ja3s",
    },
    TlsCertificateRequest: {"ca_names": "trustwatch.tls.certificate_request.ca_names"},
    TlsClientCertificate: {"chain": "trustwatch.chain", "attempt": "trustwatch.attempt"},
    TlsServerCertificate: {"chain": "trustwatch.chain"},
    TlsEncryptedHandshake: {
        "version": "tls.version",
        "mutual_auth": "trustwatch.tls.mutual_auth",
        "confidence": "trustwatch.tls.mutual_auth_confidence",
        "reasons": "trustwatch.tls.mutual_auth_reasons",
    },
    CredentialSeen: {
        "presenter": "trustwatch.credential.presenter",
        "username": "user.name",
        "domain": "user.domain",
        "host": "trustwatch.credential.host",
        "secret_kind": "trustwatch.credential.kind",
        "secret_fp": "trustwatch.credential.fingerprint",
        "secret_hint": "trustwatch.credential.hint",
        "mechanism": "trustwatch.credential.mechanism",
        "token": "trustwatch.credential.token",
        "notes": "trustwatch.credential.notes",
        "attempt": "trustwatch.attempt",
    },
    AuthenticationOutcome: {
        "attempt": "trustwatch.attempt",
        "outcome": "event.outcome",
        "reason_code": "error.code",
        "reason": "event.reason",
        "basis": "trustwatch.outcome.basis",
        "confidence": "trustwatch.outcome.confidence",
    },
    DicomAssociation: {
        "pdu": "trustwatch.dicom.pdu",
        "calling_ae": "trustwatch.dicom.calling_ae_title",
        "called_ae": "trustwatch.dicom.called_ae_title",
        "implementation_class_uid": "trustwatch.dicom.implementation_class_uid",
        "implementation_version": "trustwatch.dicom.implementation_version_name",
        "user_identity_type": "trustwatch.dicom.user_identity_type",
        "result": "trustwatch.dicom.result",
        "attempt": "trustwatch.attempt",
    },
    Hl7Message: {
        "sending_application": "trustwatch.hl7.sending_application",
        "sending_facility": "trustwatch.hl7.sending_facility",
        "receiving_application": "trustwatch.hl7.receiving_application",
        "receiving_facility": "trustwatch.hl7.receiving_facility",
        "message_type": "trustwatch.hl7.message_type",
        "version": "trustwatch.hl7.version",
    },
    RemoteAccessSession: _SESSION_PATHS,
    RemoteAccessSessionStart: _SESSION_PATHS,
    DhcpLease: {
        "message_type": "trustwatch.dhcp.message_type",
        "client_mac": "client.mac",
        "ip": "client.ip",
        "lease_seconds": "trustwatch.dhcp.lease_seconds",
        "hostname": "host.hostname",
        "vendor_class": "trustwatch.dhcp.vendor_class",
        "parameter_list": "trustwatch.dhcp.parameter_list",
        "client_id": "trustwatch.dhcp.client_id",
        "server_id": "trustwatch.dhcp.server_id",
    },
    DnsAnswer: {
        "query": "dns.question.name",
        "query_type": "dns.question.type",
        "rcode": "dns.response_code",
        "addresses": "dns.resolved_ip",
        "cnames": "trustwatch.dns.cnames",
        "ttl": "trustwatch.dns.ttl",
    },
}
"""Record field -> dotted ECS path, per record type. Every field of every type is here."""

X509_PATHS = {
    "subject": "subject.distinguished_name",
    "subject_cn": "subject.common_name",
    "issuer": "issuer.distinguished_name",
    "serial": "serial_number",
    "not_before": "not_before",
    "not_after": "not_after",
    "key_type": "public_key_algorithm",
    "key_bits": "public_key_size",
    "signature_algorithm": "signature_algorithm",
    "sans": "alternative_names",
    "version": "version_number",
}
"""The leaf certificate's ECS `x509.*` view (the full chain is in `trustwatch.chain`)."""

BY_ACTION: dict[str, type[Observation]] = {cls.action: cls for cls in FIELD_PATHS}
_PLANS = {cls: [(name, path.split(".")[:-1], path.rsplit(".", 1)[-1]) for name, path in paths.items()]
          for cls, paths in FIELD_PATHS.items()}
"""FIELD_PATHS with each path split once: (field, parent keys, leaf key)."""
_SIDES = {Direction.ORIG: "client", Direction.RESP: "server"}


class DecodeError(ValueError):
    """A JSON line that is not an observation this version understands."""


def to_ecs(obs: Observation) -> dict[str, Any]:
    """One observation as a nested ECS document."""
    fid = obs.flow
    doc: dict[str, Any] = {
        "@timestamp": _iso(obs.ts),
        "event": {"kind": "event", "category": ["network"], "action": obs.action},
        "network": {"protocol": str(obs.protocol), "transport": fid.transport},
        "source": _endpoint(fid.orig),
        "destination": _endpoint(fid.resp),
        "trustwatch": {
            "uid": fid.uid,
            "evidence": {"capture": obs.evidence.capture, "frames": list(obs.evidence.frames)},
        },
    }
    if fid.vlan:
        doc["network"]["vlan"] = {"id": str(fid.vlan[0])}
        if len(fid.vlan) > 1:
            doc["network"]["inner"] = {"vlan": {"id": str(fid.vlan[1])}}
        doc["trustwatch"]["vlan"] = list(fid.vlan)
    for name, parents, key in _PLANS[type(obs)]:
        value = _plain(getattr(obs, name))
        if value is not None:
            node = doc
            for p in parents:
                node = node.setdefault(p, {})
            node[key] = value
    if isinstance(obs, TlsCertificate) and obs.chain:
        side = "client" if isinstance(obs, TlsClientCertificate) else "server"
        leaf = obs.leaf
        _put(doc, f"tls.{side}.hash", {"sha1": leaf.sha1, "sha256": leaf.sha256})
        _put(doc, f"tls.{side}.x509", _x509(leaf))
    return doc


@functools.lru_cache(maxsize=CERT_CACHE_SIZE)
def _x509(cert: X509Cert) -> dict[str, Any]:
    """The ECS `x509.*` view of a certificate. Cached, like the chain's plain form (`_plain`):
    the same certificates come back on every connection, so documents share these dicts."""
    x509: dict[str, Any] = {}
    for name, path in X509_PATHS.items():
        value = getattr(cert, name)
        if name == "subject_cn":
            value = [value] if value else None
        elif name == "version":
            value = str(value)
        elif name == "sans":
            value = list(value) or None
        if value is not None:
            _put(x509, path, value)
    return x509


def from_ecs(doc: dict[str, Any]) -> Observation:
    """The observation a `to_ecs` document came from."""
    try:
        action = doc["event"]["action"]
        cls = BY_ACTION[action]
    except (KeyError, TypeError) as e:
        raise DecodeError(f"unknown or missing event.action: {e}") from e
    try:
        hints = _hints(cls)
        kwargs: dict[str, Any] = {
            "ts": datetime.fromisoformat(doc["@timestamp"]).timestamp(),
            "flow": _flow(doc),
            "protocol": Proto(doc["network"]["protocol"]),
            "evidence": Evidence(
                capture=doc["trustwatch"]["evidence"]["capture"],
                frames=tuple(int(f) for f in doc["trustwatch"]["evidence"]["frames"]),
            ),
        }
        for name, path in FIELD_PATHS[cls].items():
            kwargs[name] = _typed(hints[name], _get(doc, path))
        return cls(**kwargs)
    except (KeyError, TypeError, ValueError) as e:
        raise DecodeError(f"bad {action} record: {e!r}") from e


def write_jsonl(observations: Iterable[Observation], out: IO[str]) -> int:
    """Write one JSON line per observation; returns how many. orjson rather than the
    standard library's encoder: a fifth of the sensor's time went to encoding lines
    (tests/bench/bench.py), orjson takes a quarter of that."""
    n = 0
    for obs in observations:
        out.write(orjson.dumps(to_ecs(obs), option=orjson.OPT_APPEND_NEWLINE).decode())
        n += 1
    return n


def read_observations(path: str, errors: list[str] | None = None) -> Iterator[Observation]:
    """Observations from a JSON-lines file; bad lines are skipped and described in `errors`
    as "file:line: message" (raise if `errors` is None)."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
                if not isinstance(doc, dict):
                    raise DecodeError("not a JSON object")
                yield from_ecs(doc)
            except (orjson.JSONDecodeError, DecodeError) as e:
                if errors is None:
                    raise DecodeError(f"{path}:{lineno}: {e}") from e
                errors.append(f"{path}:{lineno}: {e}")


# --- helpers --------------------------------------------------------------------------------


def _iso(ts: float) -> str:
    """ISO 8601 UTC to the microsecond, exactly as `datetime.fromtimestamp(ts, UTC).isoformat()`
    writes it (microseconds rounded half to even), the date and time of day formatted once per
    second: observations come in packet order, and `datetime` cost as much as the rest of a
    document."""
    fraction, whole = math.modf(ts)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    return f"{_second(int(whole))}.{micros:06d}Z"


@functools.lru_cache(maxsize=64)
def _second(whole: int) -> str:
    return datetime.fromtimestamp(whole, UTC).isoformat(timespec="seconds").removesuffix("+00:00")


def _endpoint(ep: Endpoint) -> dict[str, Any]:
    out: dict[str, Any] = {"ip": ep.ip, "port": ep.port}
    if ep.mac:
        out["mac"] = ep.mac
    return out


def _flow(doc: dict[str, Any]) -> FlowId:
    def endpoint(d: dict[str, Any]) -> Endpoint:
        return Endpoint(str(d["ip"]), int(d["port"]), d.get("mac"))

    return FlowId(
        uid=doc["trustwatch"]["uid"],
        transport=doc["network"]["transport"],
        orig=endpoint(doc["source"]),
        resp=endpoint(doc["destination"]),
        vlan=tuple(int(v) for v in doc["trustwatch"].get("vlan", ())),
    )


def _plain(value: Any) -> Any:
    """A record value as JSON: tuples become lists, certificates dicts, enums strings."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value  # the common case first: most values are plain already
    if isinstance(value, Direction):
        return _SIDES[value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if kind is X509Cert:
        return _plain_certificate(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


@functools.lru_cache(maxsize=CERT_CACHE_SIZE)
def _plain_certificate(cert: X509Cert) -> dict[str, Any]:
    """A chain's certificate as JSON, cached (documents share it: see `_x509`)."""
    return {name: _plain(getattr(cert, name)) for name in _CERT_FIELDS}


_CERT_FIELDS = tuple(f.name for f in fields(X509Cert))


def _typed(hint: Any, value: Any) -> Any:
    """The inverse of `_plain` for a field of type `hint`."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in args if a is not type(None)]
        return _typed(inner[0], value)
    if origin is tuple:
        return tuple(_typed(args[0], v) for v in value)
    if hint is Direction:
        return {v: k for k, v in _SIDES.items()}[value]
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and is_dataclass(hint):
        hints = _hints(hint)
        return hint(**{k: _typed(hints[k], v) for k, v in value.items()})
    if hint is float:
        return float(value)
    if hint is int:
        return int(value)
    if hint is bool:
        return bool(value)
    return value


def _hints(cls: type) -> dict[str, Any]:
    """A record type's field types, kept: `typing.get_type_hints` evaluates every annotation
    anew (half a millisecond per line read back)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


_HINTS: dict[type, dict[str, Any]] = {}


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for p in parents:
        doc = doc.setdefault(p, {})
    doc[leaf] = value


def _get(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for p in path.split("."):
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node
