"""What changed between two catalog files, as ``Change`` records (plans of import, undo, reset)."""

from __future__ import annotations

from dataclasses import fields

from .model import BITNESSES, Catalog, CatalogFile, Change, NamespaceEntry, ProtocolEntry

_PROTO_FIELDS = [f.name for f in fields(ProtocolEntry) if f.name != "id"]
_NS_FIELDS = [f.name for f in fields(NamespaceEntry) if f.name != "provider_id"]


def _field_changes(a: object, b: object,
                   names: list[str]) -> tuple[tuple[str, object, object], ...]:
    out = []
    for name in names:
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            out.append((name, list(va) if isinstance(va, tuple) else va,
                        list(vb) if isinstance(vb, tuple) else vb))
    return tuple(out)


def diff_catalog(before: Catalog | None, after: Catalog | None, bitness: str) -> list[Change]:
    b_protos = {e.id: e for e in before.protocols} if before else {}
    a_protos = {e.id: e for e in after.protocols} if after else {}
    changes: list[Change] = []
    for e in (before.protocols if before else ()):
        if e.id not in a_protos:
            changes.append(Change("remove", bitness, e.id, e.name))
    for e in (after.protocols if after else ()):
        old = b_protos.get(e.id)
        if old is None:
            changes.append(Change("add", bitness, e.id, e.name))
        elif old != e:
            changes.append(Change("update", bitness, e.id, e.name,
                                  _field_changes(old, e, _PROTO_FIELDS)))
    if before and after:
        kept_before = [i for i in before.ids if i in a_protos]
        kept_after = [i for i in after.ids if i in b_protos]
        if kept_before != kept_after:
            pos_b = {i: n for n, i in enumerate(before.ids, 1)}
            pos_a = {i: n for n, i in enumerate(after.ids, 1)}
            for i in kept_after:
                if kept_before.index(i) != kept_after.index(i):
                    changes.append(Change("move", bitness, i, a_protos[i].name,
                                          (("position", pos_b[i], pos_a[i]),)))
    b_ns = {n.provider_id: n for n in before.namespaces} if before else {}
    a_ns = {n.provider_id: n for n in after.namespaces} if after else {}
    for n in (before.namespaces if before else ()):
        if n.provider_id not in a_ns:
            changes.append(Change("namespace-remove", bitness, None, n.name, detail=n.provider_id))
    for n in (after.namespaces if after else ()):
        old_ns = b_ns.get(n.provider_id)
        if old_ns is None:
            changes.append(Change("namespace-add", bitness, None, n.name, detail=n.provider_id))
        elif old_ns != n:
            changes.append(Change("namespace-update", bitness, None, n.name,
                                  _field_changes(old_ns, n, _NS_FIELDS), n.provider_id))
    if before and after:
        common_b = [n.provider_id for n in before.namespaces if n.provider_id in a_ns]
        common_a = [n.provider_id for n in after.namespaces if n.provider_id in b_ns]
        if common_b != common_a:
            changes.append(Change("namespace-reorder", bitness, None, "",
                                  (("order", common_b, common_a),)))
    return changes


def diff_files(before: CatalogFile, after: CatalogFile) -> list[Change]:
    changes: list[Change] = []
    for b in BITNESSES:
        if b in before.catalogs or b in after.catalogs:
            changes += diff_catalog(before.catalogs.get(b), after.catalogs.get(b), b)
    for name in ("next_entry_id", "description", "app_categories", "lsp_ranking", "wsk"):
        va, vb = getattr(before, name), getattr(after, name)
        if va != vb:
            changes.append(Change("update", "", None, name, ((name, _plain(va), _plain(vb)),)))
    return changes


def _plain(value: object) -> object:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value
