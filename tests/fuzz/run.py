"""Run one fuzz target under atheris (libFuzzer), its trustwatch code instrumented for coverage.

    python -m tests.fuzz.run TARGET [CORPUS_DIR ...] [libFuzzer flags]

With no corpus directory the seeds are built into a fresh one (`tests/fuzz/seeds.py`); with one
that is empty, into it. `-max_len` defaults to the target's. A crash (a finding) makes libFuzzer
write the input to `crash-<sha1>` (see `-artifact_prefix`) and exit non-zero; `python -m
tests.fuzz.run TARGET crash-<sha1>` replays it. `--list` names the targets.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["trustwatch"]):
    from tests.fuzz import harness, seeds


def main(argv: list[str]) -> None:
    """Fuzz `argv[1]` with the rest of `argv` as libFuzzer's arguments (atheris.Fuzz exits)."""
    if argv[1:] == ["--list"]:
        print("\n".join(harness.TARGETS))
        return
    if len(argv) < 2 or argv[1] not in harness.TARGETS:
        sys.exit(f"usage: python -m tests.fuzz.run TARGET [CORPUS_DIR ...] [libFuzzer flags]\n"
                 f"targets: {' '.join(harness.TARGETS)}")
    target = harness.TARGETS[argv[1]]
    args = argv[2:]
    dirs = [a for a in args if not a.startswith("-")]
    if not dirs:
        dirs = [tempfile.mkdtemp(prefix=f"fuzz-{target.name}-")]
        args.append(dirs[0])
    corpus = Path(dirs[0])
    if corpus.is_dir() and not any(corpus.iterdir()):
        n = seeds.write(corpus, seeds.build().get(target.name, []))
        print(f"{n} seeds for {target.name} in {corpus}", file=sys.stderr)
    if not any(a.startswith("-max_len=") for a in args):
        args.insert(0, f"-max_len={target.max_len}")
    # libFuzzer runs its argv[0] through the shell to minimise a crash (-minimize_crash=1) or
    # to fork (-fork=N): the command that starts this target.
    atheris.Setup([f"{shlex.quote(sys.executable)} -m tests.fuzz.run {target.name}", *args], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
