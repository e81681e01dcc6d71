"""An earlier porch beside this one, in the same interleaved run: ``--baseline REF``.

A before/after comparison of two benchmark runs minutes apart measures the
machine as much as the change (settings.py: a slow spell once moved a run by
half). So ``--baseline REF`` checks REF out into ``bench/.baselines/<commit>``
(a clone of this repository, so this checkout's work tree and worktrees are not
touched), installs it there with its own ``scripts/setup`` into its own
virtualenv, and adds "porch at <commit>" beside porch in the Redis, memory and
SQLite sections, on both servers. Its ratio to porch on Granian, cycle by cycle,
is then the change's effect with the machine's drift taken out.

The checkout is kept between runs (a second run of the same commit reuses it);
``rm -r bench/.baselines`` removes them all.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .settings import BENCH, ROOT

BASELINES = BENCH / ".baselines"


def git(*arguments: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def prepare(ref: str) -> tuple[str, Path]:
    """The short commit of ``ref`` and the Python of its own virtualenv, installed."""
    try:
        commit = git("rev-parse", "--verify", "--short", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"--baseline: {ref!r} is not a commit of this repository") from error
    checkout = BASELINES / commit
    python = checkout / ".venv" / "bin" / "python"
    if not (checkout / ".git").is_dir():
        BASELINES.mkdir(exist_ok=True)
        git("clone", "--quiet", "--no-checkout", str(ROOT), str(checkout))
        git("checkout", "--quiet", "--detach", commit, cwd=checkout)
    if not python.exists():
        setup = checkout / "scripts" / "setup"
        if not setup.exists():
            raise SystemExit(f"--baseline: {commit} has no scripts/setup to install it with")
        print(f"bench: installing porch at {commit} into {checkout / '.venv'}", flush=True)
        environment = {**os.environ, "VENV": str(checkout / ".venv")}
        environment.pop("VIRTUAL_ENV", None)
        subprocess.run([str(setup)], cwd=checkout, env=environment, check=True)
    return commit, python
