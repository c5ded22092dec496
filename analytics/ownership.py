"""Who owns a credential: the principal that authenticates with it, not the party that checks it.

A presentation on the wire is made either by the credential's *holder* (a client logging in, an
SNMP agent answering or trapping with its community) or by a *verifier* (an SNMP manager asking
an agent with the agent's community, a receiver repeating what it checks in its answer). Only
holders can share a credential: `shared-credential` counts holders, so a poller and the one agent
it polls are one holder, and one client logging in to many servers is one holder. `OWNERSHIP` is
the table, protocol by protocol, with the reason; the README shows the same table.

Where one message cannot tell, the other messages of its connection do (`Exchanges`): an SNMP
Response answers an inform (then the manager sent it) or a refused request (then it only echoes
the community it refuses). A Response carrying the community it was asked with is also the
agent's answer seen in band: the request was accepted, whether or not the sensor reports
outcomes for SNMP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ..sensor.flowid import Direction
from ..sensor.records import AuthenticationOutcome, CredentialSeen, Observation, Outcome, Proto
from .identities import IdentityKind, Presentation


class Party(StrEnum):
    """Whose credential a presentation shows, from the presenter's side."""

    HOLDER = "holder"
    """Its own: it authenticates with it (a client's password, an agent's community)."""
    VERIFIER = "verifier"
    """Another's, which it checks or uses per peer (a poller's request, an echo in an answer)."""


@dataclass(frozen=True, slots=True)
class Ownership:
    """One row of the ownership table."""

    protocols: str
    credential: str
    holder: str
    verifier: str
    why: str


OWNERSHIP: tuple[Ownership, ...] = (
    Ownership(
        "SNMP v1/v2c", "community",
        "the agent: its Response, Trap or InformRequest",
        "the manager (poller): its Get/GetNext/GetBulk/Set requests, its Response to an inform; "
        "an agent's Response to a refused request (an echo)",
        "A community is the agent's access secret, configured on the agent. A manager keeps one per "
        "agent (or per fleet) to ask with: one poller sending the same community to many agents, or "
        "many communities to many agents, is their verifier, never a sharer. The agent's answer shows "
        "that it holds the community: two or more agents answering one community share it."),
    Ownership(
        "SNMP v3", "USM user name",
        "the sender of requests and notifications: the principal the user stands for",
        "the responder, whose Response or Report repeats the user name",
        "The user authenticates with keys localised per engine; the agent checks them and repeats "
        "the name in its answer."),
    Ownership(
        "HL7 v2 (MLLP)", "MSH-8 security",
        "the sending application (the MLLP client)",
        "the receiver, whose acknowledgement may repeat it",
        "Messages flow one way and acknowledgements the other: a security value in an ACK is the "
        "receiver checking what it was sent."),
    Ownership(
        "TLS, DTLS", "client certificate",
        "the client", "the server",
        "The client proves possession of the private key; the server only checks the chain."),
    Ownership(
        "TLS, DTLS", "server certificate",
        "the server", "its clients",
        "One server seen by many clients is one holder (server certificates are never counted as "
        "shared)."),
    Ownership(
        "HTTP, FTP, Telnet, POP3, IMAP, SMTP, LDAP, MQTT, Redis, SIP, Kerberos, NTLM (SMB, DCE-RPC, "
        "HTTP, LDAP)", "password, token, API key, user name",
        "the client that logs in", "the server",
        "The secret is the client's; the server's account only checks it. One client (a jump host, "
        "a management server) logging in to many servers, even with one account name, is one "
        "holder; several client devices presenting one password to a server share it."),
    Ownership(
        "DICOM", "AE title; user identity (user, passcode, token)",
        "each side its own AE title (the requester its calling, the acceptor its called AE title); "
        "the requester its user identity",
        "the other side",
        "An AE title names the application that sends it; the acceptor's reply names itself."),
    Ownership(
        "RDP, VNC, SSH, vendor tools", "remote-access session",
        "the device end (reached, or calling out)", "-",
        "Not a credential: the session is judged by the remote-access ledger (who relayed it, which "
        "vendor the device approves)."),
)
"""The table: protocol, credential, holder, verifier and why (the README's table is this one)."""

SNMP_REQUESTS = frozenset({"get-request", "get-next-request", "get-bulk-request", "set-request"})
SNMP_NOTIFICATIONS = frozenset({"trap", "snmpv2-trap", "inform-request"})
SNMP_ANSWERS = frozenset({"response", "report"})


@dataclass(frozen=True, slots=True)
class Place:
    """Where a presentation stands in its exchange."""

    party: Party = Party.HOLDER
    reply: bool = False
    """It answers the other side's message (an SNMP Response or Report, an HL7 ACK) rather than
    presenting on its own: an answer, not an authentication attempt."""
    replied: bool = False
    """The other side's answer carrying the same secret was seen: an SNMP agent answered the
    request (accepted)."""


HOLDS = Place()


def snmp_pdu(obs: CredentialSeen) -> str:
    """The PDU name of an SNMP credential (`v2c get-request` -> `get-request`); "" for v3 (its PDU
    may be encrypted)."""
    version, _, pdu = obs.mechanism.partition(" ")
    return "" if version == "v3" else pdu


class Exchanges:
    """What the messages of each connection say about the presentations in it."""

    def __init__(self, observations: Iterable[Observation]) -> None:
        obs = list(observations)
        self._informs: set[tuple[str, Direction]] = set()
        self._answers: set[tuple[str, str, Direction]] = set()
        """(uid, secret, the side that sent an SNMP Response with it)."""
        attempts: dict[tuple[str, int], CredentialSeen] = {}
        for o in obs:
            if not isinstance(o, CredentialSeen) or o.protocol is not Proto.SNMP:
                continue
            pdu = snmp_pdu(o)
            if pdu == "inform-request":
                self._informs.add((o.flow.uid, o.presenter))
            elif pdu == "response" and o.secret_fp:
                self._answers.add((o.flow.uid, o.secret_fp, o.presenter))
            if o.attempt is not None:
                attempts[(o.flow.uid, o.attempt)] = o
        self._refused = {(a.flow.uid, c.secret_fp) for a in obs if isinstance(a, AuthenticationOutcome)
                         and a.outcome is Outcome.FAILURE and (c := attempts.get((a.flow.uid, a.attempt)))}
        """(uid, secret) of SNMP requests the agent refused (its Response, if any, only echoes)."""

    def place(self, p: Presentation) -> Place:
        """The presenter's party, and whether the presentation is or got an answer (`OWNERSHIP`)."""
        obs = p.obs
        if obs.protocol is Proto.SNMP and isinstance(obs, CredentialSeen):
            return self._snmp(obs, p)
        if obs.protocol is Proto.HL7 and p.side is Direction.RESP:
            return Place(Party.VERIFIER, reply=True)
        return HOLDS

    def _snmp(self, obs: CredentialSeen, p: Presentation) -> Place:
        uid, other = obs.flow.uid, Direction.RESP if p.side is Direction.ORIG else Direction.ORIG
        if p.identity.kind is not IdentityKind.SECRET:  # a v3 user name: the asking side's
            return HOLDS if p.side is Direction.ORIG else Place(Party.VERIFIER, reply=True)
        fp = p.identity.value
        pdu = snmp_pdu(obs)
        replied = (uid, fp, other) in self._answers and (uid, fp) not in self._refused
        if pdu in SNMP_REQUESTS:
            return Place(Party.VERIFIER, replied=replied)
        if pdu in SNMP_ANSWERS:
            manager = pdu == "report" or (uid, other) in self._informs or (uid, fp) in self._refused
            return Place(Party.VERIFIER if manager else Party.HOLDER, reply=True)
        return Place(Party.HOLDER, replied=pdu == "inform-request" and replied)
