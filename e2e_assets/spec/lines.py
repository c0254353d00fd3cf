"""Where each field of a YAML document is: field path -> 1-based line."""

from __future__ import annotations

from collections.abc import Mapping

import yaml


def line_index(node: yaml.Node | None) -> dict[tuple[str, ...], int]:
    """Map each field path to its 1-based line in the YAML text."""
    out: dict[tuple[str, ...], int] = {}

    def walk(n: yaml.Node, loc: tuple[str, ...]) -> None:
        out[loc] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, val in n.value:
                out[(*loc, str(key.value))] = key.start_mark.line + 1
                walk(val, (*loc, str(key.value)))
                out[(*loc, str(key.value))] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*loc, str(i)))

    if node is not None:
        walk(node, ())
    return out


def line_for(loc: tuple[str, ...], lines: Mapping[tuple[str, ...], int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
