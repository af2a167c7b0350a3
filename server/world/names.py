"""What "the same name" means, for agents and players alike.

Two names are the same when their keys are equal: the key is the name in Unicode NFKC form,
case-folded, with runs of whitespace collapsed to one space and none at either end. The database
holds the key in a column with a binary collation (`utf8mb4_bin`), so it agrees with the server
byte for byte; MariaDB's default `utf8mb4_general_ci` would call "Café" and "Cafe", or "Bob Martin"
and "Bob Martin ", equal where the server does not.

Names that only look like another are refused (`invalid_name`): letters of more than one script
("Аlice", with a Cyrillic A), compatibility forms such as fullwidth letters (NFKC changes them),
more than two combining marks on a letter, control and format characters (zero-width joiners),
and names that are only whitespace."""

from __future__ import annotations

import re
import unicodedata

from server.errors import GameError


class InvalidName(GameError):
    """A name that is empty, or could pass for another name (see the module docstring)."""

    code = "invalid_name"


_SPACE = re.compile(r"\s+")
MAX_MARKS = 2  # combining marks on one letter (Vietnamese uses two)
# scripts that one name may mix: Japanese writes Han, Hiragana and Katakana together, Korean
# Hangul with Han
_MIXABLE = frozenset({"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL"})


def tidy(name: str) -> str:
    """The name as shown: NFC, whitespace runs made one space, trimmed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", name)).strip()


def name_key(name: str) -> str:
    """The comparison key of a name: NFKC, case-folded, whitespace collapsed and trimmed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", name).casefold()).strip()


def _script(ch: str) -> str | None:
    """The script of a letter, from its Unicode name ("LATIN", "CYRILLIC", "GREEK", "CJK"...)."""
    if not ch.isalpha():
        return None
    try:
        first = unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return "UNKNOWN"
    return first


def check_name(name: str, what: str = "name") -> str:
    """The tidied name, or `InvalidName` saying why it could pass for another."""
    shown = tidy(name)
    if not shown:
        raise InvalidName(f"{what} {name!r} is empty or only whitespace")
    if unicodedata.normalize("NFKC", shown) != shown:
        raise InvalidName(
            f"{what} {shown!r} has compatibility characters (fullwidth letters, ligatures, "
            f"superscripts): write it as {unicodedata.normalize('NFKC', shown)!r}"
        )
    marks = 0
    for ch in shown:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Co", "Cn", "Cs"):
            raise InvalidName(f"{what} {shown!r} has an invisible or control character U+{ord(ch):04X}")
        marks = marks + 1 if cat.startswith("M") else 0
        if marks > MAX_MARKS:
            raise InvalidName(f"{what} {shown!r} stacks more than {MAX_MARKS} combining marks on a letter")
    scripts = {s for s in map(_script, shown) if s is not None}
    if len(scripts) > 1 and not scripts <= _MIXABLE:
        raise InvalidName(
            f"{what} {shown!r} mixes letters of the scripts {', '.join(sorted(scripts))}; "
            "a name is written in one script"
        )
    return shown
