"""The JSON shapes of DESIGN §4 (entries, namespaces), and reading a ``list --json`` document
back."""

from __future__ import annotations

import json
from typing import Any

from .. import winsock as ws
from ..errors import CatalogFileError
from ..model import Catalog, CatalogFile, NamespaceEntry, ProtocolEntry
from ..names import display_name
from . import catalog_toml

SCHEMA = 1


def entry_to_json(e: ProtocolEntry, position: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "position": position, "id": e.id, "kind": e.kind, "name": e.name,
        "provider_id": e.provider_id, "path": e.path, "version": e.version,
        "family": e.family, "family_name": ws.family_name(e.family),
        "socket_type": e.socket_type, "socket_type_name": ws.socket_type_name(e.socket_type),
        "protocol": e.protocol, "protocol_max_offset": e.protocol_max_offset,
        "min_address_length": e.min_address_length, "max_address_length": e.max_address_length,
        "service_flags": e.service_flags, "provider_flags": e.provider_flags,
        "byte_order": e.byte_order, "security_scheme": e.security_scheme,
        "message_size": e.message_size, "provider_reserved": e.provider_reserved,
        "chain": list(e.chain_ids), "lsp_categories": e.lsp_categories,
    }
    shown = display_name(e.name)
    if shown != e.name:
        out["display_name"] = shown
    if e.service_flags2 or e.service_flags3 or e.service_flags4:
        out.update(service_flags2=e.service_flags2, service_flags3=e.service_flags3,
                   service_flags4=e.service_flags4)
    if e.inferred:            # fields an import filled in (sporder_py.known); absent when none
        out["inferred"] = list(e.inferred)
    return out


def namespace_to_json(n: NamespaceEntry, position: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "position": position, "provider_id": n.provider_id, "name": n.name,
        "namespace": n.namespace, "namespace_name": ws.namespace_name(n.namespace),
        "path": n.path, "enabled": n.enabled, "version": n.version,
    }
    shown = display_name(n.name)
    if shown != n.name:
        out["display_name"] = shown
    return out


def catalog_entries(cat: Catalog) -> list[dict[str, Any]]:
    return [entry_to_json(e, i) for i, e in enumerate(cat.protocols, 1)]


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


# --- reading a list --json document back ---------------------------------------------------------

_ENTRY_KEYS = ("id", "kind", "name", "provider_id", "path", "family", "socket_type", "protocol")


def parse_list_json(text: str, source: str) -> tuple[CatalogFile, list[str]]:
    """A ``sporder list --json`` (or ``export --format json``) document -> a catalog file."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogFileError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                               f"{exc.msg}).", code="catalog-syntax") from None
    except RecursionError:
        raise CatalogFileError(f"{source}: JSON nested too deeply.",
                               code="catalog-syntax") from None
    except ValueError as exc:      # e.g. an integer of more than 4300 digits
        raise CatalogFileError(f"{source}: not usable JSON ({str(exc)[:80]}).",
                               code="catalog-syntax") from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise CatalogFileError(f"{source}: not a 'sporder list --json' document (no data.entries "
                               "list).", code="catalog-invalid")
    # data itself is the native catalog; data.catalogs (list of both) adds the other one.
    others = data.get("catalogs")
    parts = [data] + ([c for c in others if c.get("catalog") != data.get("catalog")]
                      if isinstance(others, list) and all(isinstance(c, dict) for c in others)
                      else [])
    tables: dict[str, Any] = {}
    ids: list[int] = []
    for part in parts:
        bitness = str(part.get("catalog", "64"))
        if bitness not in ("64", "32") or f"catalog{bitness}" in tables:
            raise CatalogFileError(f"{source}: data.catalog must be \"64\" or \"32\", once "
                                   "each.", code="catalog-invalid")
        tables[f"catalog{bitness}"], more = _catalog_table(part, source)
        ids += more
    next_id = max(ids + [ws.FIRST_CATALOG_ENTRY_ID - 1]) + 1
    return catalog_toml.from_dict(
        {"format": 1, "description": f"imported from {source}", "next_entry_id": next_id,
         "serial": data.get("serial", 1) if isinstance(data.get("serial"), int) else 1,
         **tables}, source)


def _catalog_table(data: dict[str, Any], source: str) -> tuple[dict[str, Any], list[int]]:
    """One catalog of a list --json document -> its TOML table, and every id it names."""
    if not isinstance(data.get("entries"), list):
        raise CatalogFileError(f"{source}: a catalog of data.catalogs has no entries list.",
                               code="catalog-invalid")
    protocols: list[dict[str, Any]] = []
    for pos, item in enumerate(data["entries"], 1):
        if not isinstance(item, dict) or any(k not in item for k in _ENTRY_KEYS):
            raise CatalogFileError(f"{source}: data.entries[{pos - 1}] lacks one of "
                                   f"{', '.join(_ENTRY_KEYS)}.", code="catalog-invalid")
        raw = {k: item[k] for k in catalog_toml._PROTO_REQUIRED | catalog_toml._PROTO_OPTIONAL
               if k in item}
        raw["chain"] = item.get("chain", [])
        if raw.get("kind") != "chain":
            raw.pop("chain")
        protocols.append(raw)
    namespaces: list[dict[str, Any]] = []
    if not isinstance(data.get("namespaces", []), list):
        raise CatalogFileError(f"{source}: data.namespaces must be a list.",
                               code="catalog-invalid")
    for item in data.get("namespaces", []) or []:
        if not isinstance(item, dict):
            raise CatalogFileError(f"{source}: data.namespaces holds a non-object.",
                                   code="catalog-invalid")
        namespaces.append({k: item[k] for k in catalog_toml._NS_REQUIRED | catalog_toml._NS_OPTIONAL
                           if k in item})
    ids: list[int] = [p["id"] for p in protocols if isinstance(p.get("id"), int)]
    chain_ids: list[int] = [c for p in protocols for c in p.get("chain", []) if isinstance(c, int)]
    table: dict[str, Any] = {"protocol": protocols}
    if namespaces:
        table["namespace"] = namespaces
    return table, ids + chain_ids
