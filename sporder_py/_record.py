"""Frozen dataclasses that cost nothing to define at start-up (issue 7).

``@dataclass(frozen=True)`` compiles six generated methods per class with ``exec`` on every run of
the program: 48 compilations and ~7.5 ms for the model alone, a quarter of sporder's whole
start-up budget.  A class decorated with ``record`` is still a real dataclass (``fields``,
``replace``, ``asdict``, ``is_dataclass`` and ``__match_args__`` work as before) but writes its
``__init__`` out by hand, so it is compiled once into the .pyc, and inherits equality, hashing,
repr, immutability and pickling from ``Record`` instead of having them generated.

The hand-written ``__init__`` must take the fields in order with the declared defaults and set
each with ``object.__setattr__``; tests/test_record.py checks every record class against that.
One difference remains: ``__dataclass_params__`` says ``frozen=False, eq=False`` (the behaviour
comes from ``Record``), so a record cannot be the base of an ``@dataclass(frozen=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field, FrozenInstanceError, dataclass
from dataclasses import replace as _dataclass_replace
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


class Record:
    """Behaviour of a frozen dataclass with ``eq=True``, computed from the field values."""

    __slots__ = ()
    # What ``dataclass`` sets on each record class; declared so that type checkers see records
    # as the dataclasses they are (``dataclasses.fields`` and ``replace`` accept them).
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
    _names: tuple[str, ...]
    _slot: dict[str, int]
    _values: Callable[[Any], tuple[Any, ...]]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values(self) == self._values(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values(self))

    def __repr__(self) -> str:
        values = self._values(self)
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(self._names, values, strict=True))
        return f"{self.__class__.__qualname__}({pairs})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return (self.__class__, self._values(self))


def replace(obj: T, /, **changes: Any) -> T:
    """``dataclasses.replace`` for records, without its per-field bookkeeping (the operations
    call it thousands of times in one ``apply``).  Any other dataclass goes to the original."""
    cls = obj.__class__
    slot = getattr(cls, "_slot", None)
    if slot is None or not isinstance(obj, Record):
        return _dataclass_replace(obj, **changes)  # type: ignore[type-var]
    values = list(obj._values(obj))
    for name, value in changes.items():
        i = slot.get(name)
        if i is None:             # what dataclasses.replace would say
            raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword "
                            f"argument '{name}'")
        values[i] = value
    return cls(*values)


def record(*, slots: bool = True) -> Callable[[type[T]], type[T]]:
    """Make ``cls`` (a ``Record`` subclass with its own ``__init__``) a frozen dataclass."""
    def wrap(cls: type[T]) -> type[T]:
        cls = dataclass(init=False, repr=False, eq=False, slots=slots)(cls)
        names = tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]
        cls._names = names  # type: ignore[attr-defined]
        cls._slot = {n: i for i, n in enumerate(names)}  # type: ignore[attr-defined]
        if len(names) > 1:      # attrgetter: C speed, returns a tuple, and is not a descriptor
            from operator import attrgetter
            cls._values = attrgetter(*names)  # type: ignore[attr-defined]
        else:
            cls._values = staticmethod(  # type: ignore[attr-defined]
                lambda obj: tuple(getattr(obj, n) for n in names))
        return cls
    return wrap
