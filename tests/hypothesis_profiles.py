"""Hypothesis settings profiles: reproducible by default, thorough on request.

`ci` (the default, loaded by tests/conftest.py): derandomized, so a run tries the same examples
on every machine and a red run means a real defect that reruns red; no example database, which
derandomized runs do not use. `thorough` (HYPOTHESIS_PROFILE=thorough, or `make test-thorough`):
random examples, saved to the local example database, and EXAMPLES_FACTOR times as many.

A test that sets its own number of examples asks for it with `@examples(n)`, which scales it by
the profile: a `@settings(max_examples=n)` would override any profile.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final, TypeVar

from hypothesis import settings

PROFILE_VARIABLE: Final = "HYPOTHESIS_PROFILE"
CI: Final = "ci"
THOROUGH: Final = "thorough"
EXAMPLES_FACTOR: Final = 20  # the thorough profile's examples per example of the ci profile
_CI_EXAMPLES: Final = 100  # hypothesis's own default

settings.register_profile(
    CI, max_examples=_CI_EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=True
)
settings.register_profile(
    THOROUGH, max_examples=_CI_EXAMPLES * EXAMPLES_FACTOR, deadline=None, print_blob=True
)

T = TypeVar("T")


def profile_name() -> str:
    return os.environ.get(PROFILE_VARIABLE, CI)


def load_profile() -> None:
    """The profile HYPOTHESIS_PROFILE names (`ci` when unset)."""
    settings.load_profile(profile_name())


def examples(count: int) -> Callable[[T], T]:
    """`@settings` with `count` examples in the ci profile, scaled in the thorough one."""
    factor = EXAMPLES_FACTOR if profile_name() == THOROUGH else 1
    decorate: Callable[[T], T] = settings(max_examples=count * factor)
    return decorate
