"""_record.record classes behave exactly like the frozen dataclasses they stand for (issue 7).

Their ``__init__`` is written out by hand (so start-up compiles nothing); these tests fail when a
hand-written ``__init__`` drifts from the declared fields: a field added, dropped, reordered,
given another default, or assigned to the wrong slot.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest

from sporder_py import model, resolver
from sporder_py._record import Record
from sporder_py.store import location, reading, transaction

CLASSES = [model.ProtocolEntry, model.NamespaceEntry, model.Catalog, model.WskRange,
           model.AppCategory, model.HistoryRecord, model.CatalogFile, model.Change,
           resolver.Verdict, resolver.Resolution, location.Location, reading.Loaded,
           transaction.Outcome]


def _sample_values(cls: type) -> list[object]:
    """A distinct, valid value per field (WskRange checks its values, Location takes text)."""
    if cls is model.WskRange:
        return [0x0100, 0x0203, True]
    if cls is location.Location:
        return ["/some/catalog.toml", "option", "/real/catalog.toml"]
    return [f"value-{i}-{f.name}" for i, f in enumerate(dataclasses.fields(cls))]


def _reference(cls: type) -> type:
    """The frozen dataclass ``cls`` would be if dataclasses generated its methods."""
    specs = []
    for f in dataclasses.fields(cls):
        extra = {} if f.default is dataclasses.MISSING else {"default": f.default}
        specs.append((f.name, f.type, dataclasses.field(**extra)))
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_init_signature_matches_the_declared_fields(cls):
    assert dataclasses.is_dataclass(cls) and issubclass(cls, Record)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        expected = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert p.default == expected, f.name
    assert cls._names == tuple(f.name for f in fields)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_behaves_like_the_generated_frozen_dataclass(cls):
    values = _sample_values(cls)
    obj = cls(*values)
    ref = _reference(cls)(*values)
    assert [getattr(obj, n) for n in cls._names] == values          # every field in its slot
    assert cls._values(obj) == tuple(values)
    assert repr(obj) == repr(ref)
    assert hash(obj) == hash(ref)
    twin = cls(**dict(zip(cls._names, values, strict=True)))
    assert obj == twin and not obj != twin and hash(obj) == hash(twin)
    assert obj != ref                          # like a dataclass: another class is never equal
    assert (obj == ref) is False
    first = cls._names[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, first, values[1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(obj, first)
    changed = dataclasses.replace(obj, **{cls._names[1]: values[0]})
    assert getattr(changed, cls._names[1]) == values[0] and changed != obj
    for clone in (pickle.loads(pickle.dumps(obj)), copy.copy(obj), copy.deepcopy(obj)):
        assert clone == obj and type(clone) is cls


def test_defaults_and_slots_of_the_model():
    e = model.ProtocolEntry(1001, "base", "MSAFD Tcpip [TCP/IP]", "{E70F1AA0-AB8B-11CF-8CA3-"
                            "00805F48A192}", "%SystemRoot%\\system32\\mswsock.dll", 2, 1, 6)
    assert (e.min_address_length, e.max_address_length, e.version, e.chain) == (16, 16, 2, ())
    assert not hasattr(e, "__dict__")             # slotted, as @dataclass(slots=True) was
    c = model.Catalog("64", (e,))
    assert c.get(1001) is e and 1001 in c         # the cached index still works (not slotted)
    with pytest.raises(model.CatalogFileError):
        model.WskRange(0x0300, 0x0100, True)      # validation of the hand-written __init__


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_fast_replace_equals_dataclasses_replace(cls):
    from sporder_py._record import replace
    values = _sample_values(cls)
    obj = cls(*values)
    for i, name in enumerate(cls._names):
        new = values[(i + 1) % len(values)]
        outcomes = []
        for how in (replace, dataclasses.replace):
            try:
                outcomes.append(how(obj, **{name: new}))
            except Exception as exc:  # noqa: BLE001 - e.g. WskRange refusing a bool
                outcomes.append((type(exc), str(exc)))
        assert outcomes[0] == outcomes[1]
    assert replace(obj) == obj
    with pytest.raises(TypeError, match="unexpected keyword argument 'no_such_field'"):
        replace(obj, no_such_field=1)
    with pytest.raises(TypeError):
        dataclasses.replace(obj, no_such_field=1)
