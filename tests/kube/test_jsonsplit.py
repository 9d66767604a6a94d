"""The recursion-free splitter agrees with a JSON parser, and refuses what is not well nested."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubevents.kube._jsonsplit import array_elements, object_members

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
separators = st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=6), separators, st.booleans())
def test_members_are_what_a_parser_reads(
    obj: dict[str, Any], sep: tuple[str, str], ascii_only: bool
) -> None:
    data = json.dumps(obj, separators=sep, ensure_ascii=ascii_only).encode()
    members = object_members(b" \n" + data + b"\t")
    assert members is not None
    assert {json.loads(b'"%s"' % k): json.loads(v) for k, v in members.items()} == obj


@settings(max_examples=150, deadline=None)
@given(st.lists(values, max_size=6), separators)
def test_elements_are_what_a_parser_reads(items: list[Any], sep: tuple[str, str]) -> None:
    elements = array_elements(json.dumps(items, separators=sep).encode())
    assert elements is not None
    assert [json.loads(e) for e in elements] == items


def test_depth_costs_no_recursion() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    members = object_members(b'{"metadata":{},"items":[%s,{"a":"]"}]}' % deep)
    assert members is not None
    assert array_elements(members[b"items"]) == [deep, b'{"a":"]"}']


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b"{",
        b'{"a":1',
        b'{"a":[}',
        b'{"a":}',
        b'{"a" 1}',
        b"{a:1}",
        b'{"a":1,}',
        b'{"a":"x}',
        b'{"a":1} {}',
        b'{"a":1]',
        b'{"a":{"b":[1}]}',
    ],
)
def test_anything_not_one_well_nested_object_is_refused(data: bytes) -> None:
    assert object_members(data) is None


@pytest.mark.parametrize("data", [b"", b"{}", b"[", b"[1,]", b"[,1]", b"[1 2]", b"[[]"])
def test_anything_not_one_well_nested_array_is_refused(data: bytes) -> None:
    assert array_elements(data) is None
