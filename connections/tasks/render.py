"""An Email Task's message: the template and the task merged, then its placeholders filled.

Placeholders follow `string.Template` rules: `$name` or `${name}`, `$$` for a dollar sign.
Only the given variables are used: nothing is evaluated, no attribute or item is looked
up, and a value is inserted as it is (a `${...}` inside a value is not filled again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from string import Template
from typing import Literal

LABELS = {
    "reply_to": "Reply-To",
    "to": "To",
    "cc": "CC",
    "bcc": "BCC",
    "subject": "Subject",
    "body": "Body",
}
HEADER_FIELDS = ("reply_to", "to", "cc", "bcc", "subject")


class RenderError(ValueError):
    """The message cannot be rendered; the text says what to change."""


class UnknownPlaceholders(RenderError):
    def __init__(self, names: list[str], where: dict[str, list[str]]) -> None:
        listed = ", ".join(f"${{{name}}}" for name in names)
        places = "; ".join(f"{name} in {', '.join(where[name])}" for name in names)
        noun = "placeholder" if len(names) == 1 else "placeholders"
        super().__init__(
            f"Unknown {noun} {listed} ({places}): give each a value in the task's Variables "
            "or at Run now, or write $$ for a dollar sign."
        )
        self.names = names


@dataclass(frozen=True)
class Draft:
    """The fields of a message before (or after) its placeholders are filled."""

    reply_to: str = ""
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""

    @classmethod
    def of(cls, source: object | None) -> Draft:
        """The message fields of a record (an Email Template or Task); empty for None."""
        if source is None:
            return cls()
        return cls(**{f.name: getattr(source, f.name, "") or "" for f in fields(cls)})


def merged(template: Draft | None, task: Draft) -> Draft:
    """Field by field, anything set on the task overrides the template."""
    if template is None:
        return task
    return Draft(
        **{
            f.name: getattr(task, f.name)
            if getattr(task, f.name).strip()
            else getattr(template, f.name)
            for f in fields(Draft)
        }
    )


def variables(
    task: Mapping[str, object], run: Mapping[str, object] | None = None
) -> dict[str, str]:
    """The task's variables, with the values given at Run now taking precedence."""
    return {str(k): str(v) for k, v in {**task, **(run or {})}.items()}


def is_name(name: str) -> bool:
    """Whether `name` can be used as a placeholder (`${name}`)."""
    match = Template.pattern.fullmatch(f"${{{name}}}")
    return bool(match and match["braced"])


def placeholders(text: str) -> list[str]:
    """The placeholder names in text, in order of first appearance."""
    return Template(text).get_identifiers()


def render(draft: Draft, values: Mapping[str, str]) -> Draft:
    """Every field with its placeholders filled from values.

    Raises UnknownPlaceholders naming every placeholder without a value, across all fields,
    and RenderError for a lone `$` or a value that would break a header onto two lines.
    """
    where: dict[str, list[str]] = {}
    for f in fields(Draft):
        text = getattr(draft, f.name)
        _check_dollars(text, LABELS[f.name])
        for name in placeholders(text):
            if name not in values:
                where.setdefault(name, []).append(LABELS[f.name])
    if where:
        raise UnknownPlaceholders(list(where), where)
    filled = {f.name: Template(getattr(draft, f.name)).substitute(values) for f in fields(Draft)}
    for name in HEADER_FIELDS:
        if "\n" in filled[name] or "\r" in filled[name]:
            raise RenderError(
                f"{LABELS[name]} would contain a line break (from a variable's value): "
                "a header is one line."
            )
    return replace(draft, **filled)


def _check_dollars(text: str, label: str) -> None:
    for match in Template.pattern.finditer(text):
        if match["invalid"] is not None:
            line, column = _position(text, match.start("invalid"))
            raise RenderError(
                f"{label}: a $ that starts no placeholder at line {line}, column {column}: "
                "write $$ for a dollar sign, or ${name} for a placeholder."
            )


def _position(text: str, index: int) -> tuple[int, int]:
    before = text[:index].splitlines(keepends=True) or [""]
    if before[-1].endswith(("\n", "\r")):
        return len(before) + 1, 1
    return len(before), len(before[-1]) + 1


@dataclass(frozen=True)
class Segment:
    """A piece of a preview: text as it will be sent, or a placeholder that has no value
    (kind "unknown", text `${name}`) or a `$` that starts none (kind "invalid")."""

    text: str
    kind: Literal["text", "unknown", "invalid"] = "text"
    name: str = ""


def segments(text: str, values: Mapping[str, str]) -> list[Segment]:
    """A preview of text: filled where values has the placeholder, marked where not."""
    pieces: list[Segment] = []
    position = 0

    def add(piece: Segment) -> None:
        if piece.kind == "text" and pieces and pieces[-1].kind == "text":
            pieces[-1] = Segment(pieces[-1].text + piece.text)
        elif piece.text:
            pieces.append(piece)

    for match in Template.pattern.finditer(text):
        add(Segment(text[position : match.start()]))
        position = match.end()
        name = match["named"] or match["braced"]
        if match["escaped"] is not None:
            add(Segment("$"))
        elif name is None:
            add(Segment(match[0], "invalid"))
        elif name in values:
            add(Segment(str(values[name])))
        else:
            add(Segment(match[0], "unknown", name))
    add(Segment(text[position:]))
    return pieces
