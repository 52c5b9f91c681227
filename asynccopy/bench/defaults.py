"""The bench's step defaults, apart from its core so that `asynccopy bench --help` stays quick."""

from __future__ import annotations

from typing import Final

DEFAULT_STEPS_PERCENT: Final = (25.0, 50.0, 75.0, 100.0, 125.0)
DEFAULT_STEP_SECONDS: Final = 10.0
MAX_STEPS: Final = 20
