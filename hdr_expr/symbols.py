"""The symbol alphabet shared by the data sets, the model and the pipeline.

Each class has a *name* (ASCII, safe for folder names and JSON keys) and the *character* it prints as.
``*`` and the raised dot ``·`` are written forms of multiplication and are read as ``×``.
"""

from __future__ import annotations

DIGITS: tuple[str, ...] = tuple("0123456789")
OPERATORS: tuple[str, ...] = ("+", "-", "×", "÷", "=", "(", ")", ".", "/")

#: The symbol model's classes, in output order: the ten digits first, so a digit model's head is a prefix.
SYMBOL_CLASSES: tuple[str, ...] = DIGITS + OPERATORS

#: ASCII names for the operator classes (folder names, CLI flags, file names).
CLASS_NAMES: dict[str, str] = {
    **{d: d for d in DIGITS},
    "+": "plus",
    "-": "minus",
    "×": "times",
    "÷": "div",
    "=": "eq",
    "(": "lpar",
    ")": "rpar",
    ".": "dot",
    "/": "slash",
}

#: Characters in the recognized ``text`` of a line.
TEXT_ALPHABET: frozenset[str] = frozenset(SYMBOL_CLASSES)

#: How each class is written in a plain-ASCII expression (``"expression"`` in the JSON output).
ASCII_FORMS: dict[str, str] = {**{d: d for d in DIGITS}, "+": "+", "-": "-", "×": "*", "÷": "/", "=": "=",
                               "(": "(", ")": ")", ".": ".", "/": "/"}
