"""Cheap construction of frozen dataclasses, for the few built on every request.

A frozen dataclass's generated ``__init__`` stores each field through ``object.__setattr__``:
~1.9k instructions a field against ~0.6k for a plain store (measured: an 18-field
OnlineMeeting costs ~36k instructions to build, a non-frozen twin ~13k). ``quick_constructor``
returns such a twin: a plain dataclass with the same fields and slots, whose ``__post_init__``
hands the finished object to the frozen class. It takes the same arguments as the class and
returns an instance of the class itself, frozen, equal to what the class would have built.
"""

from __future__ import annotations

from dataclasses import field, fields, make_dataclass
from typing import Any, TypeVar, cast

T = TypeVar("T")


def quick_constructor(cls: type[T]) -> type[T]:
    """A callable with ``cls``'s signature that builds ``cls`` instances (typed as the class
    so that calls are checked against its fields; use it only to construct). Falls back to
    ``cls`` itself when the two layouts could differ (then ``__class__`` could not be set)."""
    slots = cls.__dict__.get("__slots__")
    if (
        cls.__bases__ != (object,)
        or slots is None
        or hasattr(cls, "__post_init__")
        or not getattr(cls, "__dataclass_params__", None)
    ):
        return cls

    def hand_over(self: Any) -> None:
        self.__class__ = cls  # same slots, no __dict__: CPython checks the layouts match

    twin = make_dataclass(
        cls.__name__,
        [
            (
                f.name,
                f.type,
                field(
                    default=f.default,
                    default_factory=f.default_factory,
                    init=f.init,
                    kw_only=f.kw_only,
                ),
            )
            for f in fields(cast(Any, cls))
        ],
        slots=True,
        namespace={"__post_init__": hand_over},
    )
    if twin.__dict__.get("__slots__") != slots:
        return cls
    twin.__qualname__ = cls.__qualname__  # argument errors name the class
    return cast(type[T], twin)
