"""The consumer Lambda's zip: the `consumer` package as it is in the repository, and nothing else.

The Lambda Python runtime ships boto3, so the function needs no third-party packages. The zip
is reproducible: fixed timestamps and modes, files in sorted order.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import consumer

_FIXED_TIME: Final = (2020, 1, 1, 0, 0, 0)
_FILE_MODE: Final = 0o644 << 16


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumerPackage:
    data: bytes
    files: tuple[str, ...]

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def _sources() -> dict[str, bytes]:
    consumer_dir = Path(consumer.__file__).parent
    return {
        f"consumer/{path.relative_to(consumer_dir).as_posix()}": path.read_bytes()
        for path in consumer_dir.rglob("*.py")
    }


def build_consumer_zip() -> ConsumerPackage:
    files = _sources()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return ConsumerPackage(data=buffer.getvalue(), files=tuple(sorted(files)))


def write_consumer_zip(out: Path) -> ConsumerPackage:
    package = build_consumer_zip()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(package.data)
    tmp.replace(out)
    return package
