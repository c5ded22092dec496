"""`failed-authentication-burst`: refused logons that add up to an attack or a missed rotation.

Four patterns over the run's attempts (`analytics.attempts`: an account is a name at the
checking side's address), each one finding per subject:

* guessing: one device refused for one account with `guessing_failures` different secrets within
  `window_minutes` (a secret the wire does not show, a challenge response, counts as different
  each time); subject `guessing:<device>|account:<account>`. Accepted after the refusals, the
  guess may have worked: `succeeded_severity`;
* spraying: one device refused for `spraying_accounts` accounts within the window; subject
  `spraying:<device>`;
* many sources: one account refused for `sources_failing` devices within the window; subject
  `many-sources:account:<account>`;
* stale credential: one device refused `stale_failures` times with one secret after that
  secret, or another secret of the account, was accepted (a rotation the device missed);
  subject `stale:<device>|account:<account>|<secret identity>`.

Near misses stay silent: one mistyped password followed by success (one refusal), and a poller
whose one agent refuses it (one account: no spray; one secret repeated: no guess; never accepted
there: not stale). Every refusal is counted in the metrics all the same
(`trustwatch_authentications_total`). Relies on the outcome read from the answer (a refusal,
never an unknown) and on the presenter role.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ...sensor.records import Outcome
from ..attempts import Attempt, attempts
from ..findings import Finding, device_refs, finding
from ..rules import Rule
from .base import Context, list_devices, moment, parse_severity

RULE_ID = "failed-authentication-burst"
MAX_ACCOUNTS_IN_MESSAGE = 5


@dataclass(frozen=True, slots=True)
class Params:
    """The thresholds of the four patterns."""

    window_minutes: int = 10
    guessing_failures: int = 5
    """Different secrets refused for one account and one device within the window."""
    spraying_accounts: int = 5
    """Accounts one device is refused for within the window."""
    sources_failing: int = 3
    """Devices refused for one account within the window."""
    stale_failures: int = 3
    """Refusals of one secret after the account was accepted (that secret or another)."""
    succeeded_severity: str = "high"
    """A guessing run the account then accepted."""

    def __post_init__(self) -> None:
        if self.window_minutes < 1:
            raise ValueError("window_minutes must be at least 1")
        for name in ("guessing_failures", "spraying_accounts", "sources_failing", "stale_failures"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be at least 2 (one refusal is a mistyped password)")
        parse_severity(self.succeeded_severity)


@dataclass(frozen=True, slots=True)
class Peak:
    """The window of a pattern's group where it counted most."""

    count: int
    first: float
    last: float


def peak(items: Sequence[Attempt], window: float, key: Callable[[Attempt], str]) -> Peak:
    """The most distinct `key`s among the attempts of any `window` seconds (`items` in time order)."""
    counts: Counter[str] = Counter()
    best = Peak(0, 0.0, 0.0)
    start = 0
    for a in items:
        counts[key(a)] += 1
        while a.ts - items[start].ts > window:
            gone = key(items[start])
            counts[gone] -= 1
            if not counts[gone]:
                del counts[gone]
            start += 1
        if len(counts) > best.count:
            best = Peak(len(counts), items[start].ts, a.ts)
    return best


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """The findings of the four patterns, in that order."""
    p = rule.params_as(Params)
    every = attempts(ctx.sightings)
    refused = [a for a in every if a.outcome is Outcome.FAILURE]
    window = p.window_minutes * 60.0
    yield from _guessing(rule, p, refused, every, window)
    yield from _spraying(rule, p, refused, window)
    yield from _many_sources(rule, p, refused, window)
    yield from _stale(rule, p, refused, every)


K = TypeVar("K", bound=Hashable)


def _by(items: Sequence[Attempt], key: Callable[[Attempt], K]) -> dict[K, list[Attempt]]:
    """`items` grouped by `key`, each group in time order."""
    out: dict[K, list[Attempt]] = {}
    for a in items:
        out.setdefault(key(a), []).append(a)
    return out


def _secret_key(a: Attempt) -> str:
    """The secret as guessing counts it: an unseen one (a challenge response) is new every time."""
    return a.secret.value if a.secret is not None else f"unseen:{a.key}"


def _where(a: Attempt) -> str:
    return f"{a.user!r} at {a.server} ({a.protocol.upper()})"


def _span(peak: Peak, window_minutes: int) -> str:
    return f"{peak.count} within {window_minutes} minutes at the peak, from {moment(peak.first)}"


def _reasons(refused: Sequence[Attempt]) -> str:
    """`; refused with 530 Login incorrect.` from the answers' codes and words."""
    said = dict.fromkeys(" ".join(x for x in (s.answer.reason_code, s.answer.reason) if x).rstrip(".")
                         for a in refused if (s := a.sighting).answer is not None)
    said.pop("", None)
    return f"; refused with {', '.join(list(said)[:3])}" if said else ""


def _guessing(rule: Rule, p: Params, refused: list[Attempt], every: list[Attempt],
              window: float) -> Iterator[Finding]:
    successes = _by([a for a in every if a.outcome is Outcome.SUCCESS], lambda a: (a.device, a.account))
    for (device, account), failures in _by(refused, lambda a: (a.device, a.account)).items():
        best = peak(failures, window, _secret_key)
        if best.count < p.guessing_failures:
            continue
        accepted = next((a for a in successes.get((device, account), ()) if a.ts > failures[0].ts), None)
        secrets = len({_secret_key(a) for a in failures})
        first = failures[0]
        then = (f" Then it was accepted at {moment(accepted.ts)}: the guess may have worked."
                if accepted is not None else "")
        message = (f"{device_refs([first.sighting])[0].label} was refused {len(failures)} time(s) as "
                   f"{_where(first)} with {secrets} different secret(s) ({_span(best, p.window_minutes)})"
                   f"{_reasons(failures)}.{then}")
        behind = [a.sighting for a in failures] + ([accepted.sighting] if accepted is not None else [])
        yield finding(rule, f"guessing:{device}|account:{account}", behind, message,
                      first.sighting.presentation.identity, cause="guessing",
                      severity=parse_severity(p.succeeded_severity) if accepted is not None else None)


def _spraying(rule: Rule, p: Params, refused: list[Attempt], window: float) -> Iterator[Finding]:
    for device, failures in _by(refused, lambda a: a.device).items():
        best = peak(failures, window, lambda a: a.account)
        if best.count < p.spraying_accounts:
            continue
        accounts = list(dict.fromkeys(f"{a.user}@{a.server}" for a in failures))
        shown = ", ".join(accounts[:MAX_ACCOUNTS_IN_MESSAGE])
        more = f" and {len(accounts) - MAX_ACCOUNTS_IN_MESSAGE} more" if len(accounts) > MAX_ACCOUNTS_IN_MESSAGE else ""
        protocols = ", ".join(dict.fromkeys(a.protocol.upper() for a in failures))
        message = (f"{device_refs([failures[0].sighting])[0].label} was refused for {len(accounts)} accounts "
                   f"over {protocols} ({_span(best, p.window_minutes)}): {shown}{more}"
                   f"{_reasons(failures)}. One source trying many accounts: password spraying.")
        yield finding(rule, f"spraying:{device}", [a.sighting for a in failures], message, cause="spraying")


def _many_sources(rule: Rule, p: Params, refused: list[Attempt], window: float) -> Iterator[Finding]:
    for account, failures in _by(refused, lambda a: a.account).items():
        best = peak(failures, window, lambda a: a.device)
        if best.count < p.sources_failing:
            continue
        devices = device_refs([a.sighting for a in failures])
        message = (f"The account {_where(failures[0])} was refused for {len(devices)} devices "
                   f"({_span(best, p.window_minutes)}): {list_devices(devices)}{_reasons(failures)}.")
        yield finding(rule, f"many-sources:account:{account}", [a.sighting for a in failures], message,
                      failures[0].sighting.presentation.identity, cause="one account refused for many devices")


def _stale(rule: Rule, p: Params, refused: list[Attempt], every: list[Attempt]) -> Iterator[Finding]:
    accepted = _by([a for a in every if a.outcome is Outcome.SUCCESS and a.secret is not None], lambda a: a.account)
    groups = _by([a for a in refused if a.secret is not None],
                 lambda a: f"{a.device}|account:{a.account}|{a.secret.key if a.secret else ''}")
    for subject, failures in groups.items():
        first = failures[0]
        assert first.secret is not None
        earlier = [ok for ok in accepted.get(first.account, ()) if ok.ts < failures[-1].ts]
        if not earlier:
            continue
        since = earlier[0].ts
        after = [a for a in failures if a.ts > since]
        if len(after) < p.stale_failures:
            continue
        own = next((ok for ok in earlier if ok.secret is not None and ok.secret.value == first.secret.value), None)
        other = next((ok for ok in earlier if ok.secret is not None and ok.secret.value != first.secret.value), None)
        why = [f"it was accepted at {moment(own.ts)}"] if own is not None else []
        if other is not None and other.secret is not None:
            why.append(f"another {other.secret.detail or 'secret'} of the account was accepted at {moment(other.ts)} "
                       f"from {device_refs([other.sighting])[0].label}")
        message = (f"{device_refs([first.sighting])[0].label} keeps presenting the {first.secret.describe()} to "
                   f"{first.server} ({first.protocol.upper()}) and was refused {len(after)} time(s) from "
                   f"{moment(after[0].ts)} to {moment(after[-1].ts)} after {' and '.join(why)}{_reasons(after)}: "
                   "a stale credential after a rotation.")
        yield finding(rule, f"stale:{subject}", [a.sighting for a in after], message, first.secret,
                      cause="stale credential after a rotation")
