"""quick_constructor: the same frozen objects as the class builds, for less."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from openucwa.domain.frozen import quick_constructor
from openucwa.domain.meetings import MeetingInput, build_meeting_input


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def test_builds_the_class_itself_equal_to_what_the_class_builds() -> None:
    build = quick_constructor(Sample)
    made = build("a", 2, tags=("x",))
    assert type(made) is Sample
    assert made == Sample("a", 2, tags=("x",))
    assert repr(made) == repr(Sample("a", 2, tags=("x",)))
    assert dataclasses.replace(made, count=3) == Sample("a", 3, tags=("x",))


def test_the_result_stays_frozen_and_defaults_are_per_instance() -> None:
    build = quick_constructor(Sample)
    first, second = build("a"), build("b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.name = "z"  # type: ignore[misc]
    assert first.extra == {} and first.extra is not second.extra


def test_wrong_arguments_fail_as_with_the_class() -> None:
    build = quick_constructor(Sample)
    with pytest.raises(TypeError, match="Sample"):
        build()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        build("a", bogus=1)  # type: ignore[call-arg]


def test_classes_it_cannot_mirror_are_returned_as_they_are() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        name: str

    @dataclass(frozen=True, slots=True)
    class WithPostInit:
        name: str

        def __post_init__(self) -> None:
            pass

    assert quick_constructor(NoSlots) is NoSlots
    assert quick_constructor(WithPostInit) is WithPostInit


def test_meeting_input_built_quickly_is_a_meeting_input() -> None:
    data = build_meeting_input(subject="s", attendees=["sip:a@contoso.com"], problems={})
    assert type(data) is MeetingInput
    assert data == MeetingInput(subject="s", attendees=["sip:a@contoso.com"], problems={})
