"""`--attributes`: the attribute paths to read, as a DynamoDB ProjectionExpression.

    userid,firstname               two top-level attributes
    profile.address.city           a nested path: an unquoted dot steps into a map
    "weird.name"                   one attribute whose name holds a dot (or a space, or a comma)
    tags[0]                        a list element
    "a""b"                         a doubled quote inside quotes is one quote: a"b

Every name is sent through ExpressionAttributeNames (#a0, #a1, ...), so reserved words
(`name`, `status`) and any character DynamoDB allows in a name work (the DynamoDB Developer
Guide, "Expression attribute names"). A projection saves bytes on the queue, not read
capacity: DynamoDB charges a read by the item's full size, whatever it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from asynccopy.errors import InputError

Step = str | int  # an attribute name, or a list index
_FLAG: Final = "--attributes"
_HINT: Final = 'e.g. --attributes userid,profile.address.city,"weird.name",tags[0]'


class ProjectionError(InputError):
    """`--attributes` is empty or holds a path that cannot be parsed."""

    def __init__(self, *, text: str, problem: str, hint: str = _HINT) -> None:
        self.text = text
        super().__init__(f"{_FLAG} {text!r}: {problem}", hint=hint)


@dataclass(frozen=True, slots=True)
class Projection:
    """Attribute paths, each a top-level name followed by names and list indexes."""

    paths: tuple[tuple[Step, ...], ...]

    def with_keys(self, key_names: Iterable[str]) -> Projection:
        """The paths and the key attributes not already read in full (the consumer needs them);
        a path inside a key attribute is dropped (DynamoDB refuses overlapping paths)."""
        keys = tuple(key_names)
        whole = {path[0] for path in self.paths if len(path) == 1}
        missing = tuple((name,) for name in keys if name not in whole)
        kept = tuple(path for path in self.paths if len(path) == 1 or path[0] not in keys)
        return Projection(paths=missing + kept)

    def text(self) -> str:
        """The paths as `--attributes` names them, one spelling per projection."""
        return ",".join(_as_flag(path) for path in self.paths)

    def arguments(self, *, names: Mapping[str, str] | None = None) -> dict[str, object]:
        """ProjectionExpression and ExpressionAttributeNames (`names`, the caller's own
        placeholders, merged in: the placeholders chosen here avoid them)."""
        merged = dict(names or {})
        placeholder: dict[str, str] = {}
        counter = 0
        for path in self.paths:
            for step in path:
                if isinstance(step, str) and step not in placeholder:
                    while f"#a{counter}" in merged:
                        counter += 1
                    placeholder[step] = f"#a{counter}"
                    merged[f"#a{counter}"] = step
        expression = ", ".join(_render(path, placeholder) for path in self.paths)
        return {"ProjectionExpression": expression, "ExpressionAttributeNames": merged}


def _show(path: tuple[Step, ...]) -> str:
    return _render(path, {step: step for step in path if isinstance(step, str)})


def _as_flag(path: tuple[Step, ...]) -> str:
    quoted = {
        step: step if _plain(step) else '"' + step.replace('"', '""') + '"'
        for step in path
        if isinstance(step, str)
    }
    return _render(path, quoted)


def _plain(name: str) -> bool:
    return all(char not in '.[],"' and not char.isspace() for char in name)


def _render(path: tuple[Step, ...], placeholder: Mapping[str, str]) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + placeholder[step]
    return out


def parse_attributes(text: str) -> Projection:
    """The paths `text` names, in order, duplicates dropped; raises ProjectionError."""
    paths: list[tuple[Step, ...]] = []
    for path in _Parser(text).paths():
        if path not in paths:
            paths.append(path)
    if not paths:
        raise ProjectionError(text=text, problem="names no attribute")
    for path in paths:
        for other in paths:
            # DynamoDB refuses a projection whose paths overlap ("Two document paths overlap").
            if len(other) > len(path) and other[: len(path)] == path:
                raise ProjectionError(
                    text=text,
                    problem=f"{_show(path)} already includes {_show(other)}",
                    hint=f"name only {_show(path)}, or only the paths inside it",
                )
    return Projection(paths=tuple(paths))


class _Parser:
    """A one-pass reader of the grammar in the module docstring."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._at = 0

    def _fail(self, problem: str) -> ProjectionError:
        return ProjectionError(text=self._text, problem=f"{problem} at character {self._at + 1}")

    def _peek(self) -> str:
        return self._text[self._at] if self._at < len(self._text) else ""

    def _skip_spaces(self) -> None:
        while self._peek().isspace():
            self._at += 1

    def paths(self) -> list[tuple[Step, ...]]:
        found: list[tuple[Step, ...]] = []
        if not self._text.strip():
            return found
        while True:
            found.append(self._path())
            self._skip_spaces()
            if not self._peek():
                return found
            if self._peek() != ",":
                raise self._fail(f"unexpected {self._peek()!r}")
            self._at += 1

    def _path(self) -> tuple[Step, ...]:
        self._skip_spaces()
        steps: list[Step] = [self._name()]
        while True:
            if self._peek() == ".":
                self._at += 1
                steps.append(self._name())
            elif self._peek() == "[":
                steps.append(self._index())
            else:
                return tuple(steps)

    def _name(self) -> str:
        if self._peek() == '"':
            return self._quoted()
        start = self._at
        while self._peek() and self._peek() not in '.[],"' and not self._peek().isspace():
            self._at += 1
        if self._at == start:
            raise self._fail("an attribute name is missing")
        return self._text[start : self._at]

    def _quoted(self) -> str:
        self._at += 1
        name = ""
        while True:
            char = self._peek()
            if not char:
                raise self._fail("a quoted name is not closed")
            self._at += 1
            if char == '"':
                if self._peek() != '"':
                    break
                self._at += 1
            name += char
        if not name:
            raise self._fail("a quoted name is empty")
        return name

    def _index(self) -> int:
        self._at += 1
        start = self._at
        while self._peek().isdigit() and self._peek().isascii():
            self._at += 1
        if self._at == start or self._peek() != "]":
            raise self._fail("a list index must be a number in brackets, e.g. tags[0]")
        index = int(self._text[start : self._at])
        self._at += 1
        return index
