"""onlineMeetingExtension rules (spec §2.6.4): check_extension and require_extension_id."""

from __future__ import annotations

from typing import Any

import pytest

from openucwa.domain.errors import BadRequest
from openucwa.domain.meetings import (
    MAX_EXTENSION_ID_LENGTH,
    MAX_EXTENSION_VALUE_LENGTH,
    MAX_EXTENSION_VALUES,
    PUT_MARKER,
    check_extension,
    require_extension_id,
)
from tests.unit.domain.test_meetings import CountingIds


def refused(
    extension_id: str | None = None, type_: str | None = None, values: Any = ()
) -> dict[str, str]:
    with pytest.raises(BadRequest) as caught:
        check_extension(extension_id, type_, values, CountingIds())
    assert caught.value.subcode == "ParameterValidationFailure"
    return caught.value.parameters


def test_defaults_mint_an_id_and_use_undefined() -> None:
    ext = check_extension(None, None, [], CountingIds())
    assert ext.extension_id == "00000000-0000-4000-8000-000000000001"
    assert (ext.type, ext.values, ext.etag) == ("Undefined", (), "2")
    assert ext.put_guid == "00000000-0000-4000-8000-000000000003"


def test_a_given_put_guid_is_kept() -> None:
    ext = check_extension("917823", None, [], CountingIds(), put_guid="kept")
    assert (ext.extension_id, ext.put_guid) == ("917823", "kept")


@pytest.mark.parametrize(
    ("sent", "canonical"),
    [
        ("roamedparticipantdata", "RoamedParticipantData"),
        ("ROAMEDORGANIZERDATA", "RoamedOrganizerData"),
        ("Undefined", "Undefined"),
    ],
)
def test_type_is_matched_case_insensitively(sent: str, canonical: str) -> None:
    assert check_extension("x", sent, [], CountingIds()).type == canonical


def test_an_unknown_type_is_refused() -> None:
    assert "RoamedOrganizerData" in refused("x", "Everyone")["type"]


@pytest.mark.parametrize("bad", ["", "a/b", "/", ".", "..", "x" * (MAX_EXTENSION_ID_LENGTH + 1)])
def test_bad_ids_are_refused(bad: str) -> None:
    assert list(refused(bad)) == ["id"]


@pytest.mark.parametrize("good", ["x" * MAX_EXTENSION_ID_LENGTH, "...", ".x", "a.b", "é ?#"])
def test_good_ids_are_kept(good: str) -> None:
    assert check_extension(good, None, [], CountingIds()).extension_id == good


def test_reserved_names_and_the_put_marker_are_dropped() -> None:
    values = [
        ("id", "1"),
        ("Type", "Undefined"),
        ("REL", "onlineMeetingExtension"),
        ("etag", "5"),
        ("_links", {"self": {"href": "/x"}}),
        ("_embedded", {}),
        ("6f1c9e2a-0d3b-4b8e-9a51-0c2f3d4e5f60", PUT_MARKER),
        ("color", "blue"),
        ("count", 3),
        ("flags", [True, False]),
    ]
    ext = check_extension("x", None, values, CountingIds())
    assert ext.values == (("color", "blue"), ("count", 3), ("flags", [True, False]))


def test_a_long_property_name_is_refused_under_a_short_key() -> None:
    name = "n" * (MAX_EXTENSION_ID_LENGTH + 1)
    assert refused("x", values=[(name, "v")]) == {"n" * 64: "Property name too long."}
    assert check_extension("x", None, [(name[:-1], "v")], CountingIds()).values


def test_value_length_limit_counts_the_characters_of_a_string() -> None:
    at_limit = "v" * MAX_EXTENSION_VALUE_LENGTH
    ext = check_extension("x", None, [("big", at_limit)], CountingIds())
    assert ext.values == (("big", at_limit),)
    found = refused("x", values=[("big", at_limit + "v")])
    assert str(MAX_EXTENSION_VALUE_LENGTH) in found["big"]


def test_value_length_limit_applies_to_structured_values() -> None:
    assert "big" in refused("x", values=[("big", ["v" * MAX_EXTENSION_VALUE_LENGTH])])


def test_property_count_limit() -> None:
    many = [(f"p{i}", i) for i in range(MAX_EXTENSION_VALUES)]
    assert len(check_extension("x", None, many, CountingIds()).values) == MAX_EXTENSION_VALUES
    assert "properties" in refused("x", values=[*many, ("one-more", 1)])
    # Dropped names do not count: what a GET carries and a client sends back.
    marker = ("0f8fad5b-d9cb-469f-a165-70867728950e", PUT_MARKER)
    assert check_extension("x", None, [*many, ("rel", "r"), marker], CountingIds())


def test_the_marker_text_is_data_unless_guid_named() -> None:
    values = [("note", PUT_MARKER), ("0F8FAD5B-D9CB-469F-A165-70867728950E", PUT_MARKER)]
    assert check_extension("x", None, values, CountingIds()).values == (("note", PUT_MARKER),)


def test_empty_names_and_integers_beyond_64_bits_are_refused() -> None:
    assert "properties" in refused("x", values=[("", "v")])
    assert set(refused("x", values=[("big", 2**64), ("low", [1, -(2**63) - 1])])) == {"big", "low"}
    kept = check_extension(
        "x", None, [("a", 2**64 - 1), ("b", -(2**63)), ("c", True)], CountingIds()
    )
    assert [v for _, v in kept.values] == [2**64 - 1, -(2**63), True]


def test_every_problem_is_reported_at_once() -> None:
    found = refused("a/b", "Nope", [("n" * 300, 1), ("big", "v" * 5000)])
    assert set(found) == {"id", "type", "n" * 64, "big"}


def test_require_extension_id() -> None:
    assert require_extension_id("917823") == "917823"
    for bad in ("", "x" * (MAX_EXTENSION_ID_LENGTH + 1)):
        with pytest.raises(BadRequest) as caught:
            require_extension_id(bad)
        assert caught.value.subcode == "ParameterValidationFailure"
