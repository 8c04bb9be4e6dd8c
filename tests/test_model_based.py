"""Model-based testing of the library through the store (issue 7, reliability part 3).

A hypothesis ``RuleBasedStateMachine`` drives random sequences of every catalog mutation the way
the CLI does -- ``transaction.mutate`` on a real temporary catalog file, each operation a spec
dict run through ``ops.batch.run_one`` (``run_batch`` for apply), undo as ``cli.undo_cmd`` does
it, and
``doctor --fix`` through ``integrity.fix`` -- and checks, after every step, against a small
reference model kept by the test:

* the serial and the history length (a write bumps the serial by one and adds one record whose
  ``undo_target`` the model predicts), the previous states kept for undo, the exact state an undo
  of 1..3 steps restores (or that it is refused);
* per operation, what it must do to the ids and the entries (new ids are exactly the range
  handed out from ``next_entry_id``, untouched catalogs and fields stay equal, ...);
* well-formedness: ids unique and below ``next_entry_id``; chains 2..7 long, no id twice, the
  base provider last and no dangling id after every repairing operation; every chain entry
  carries the DLL path of the hidden entry of its ``chain[0]`` in the same catalog, where that
  exists (issue 13: ws2_32 loads the chosen entry's own path);
* the resolver is deterministic and equals an independent re-implementation of
  winsock-semantics §2.2 (written below from the spec text) on every distinct triple of the
  catalog plus bogus ones;
* a dry run never touches the file (bytes, inode, mtime, the directory) and plans exactly what
  the real run then does; a refused operation (WinsockError/UsageError/OperationRefused) leaves
  every file byte-identical; a batch is all or nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sporder_py import integrity
from sporder_py import winsock as ws
from sporder_py.diff import diff_files
from sporder_py.errors import (
    CatalogFileError,
    OperationRefused,
    SporderError,
    UsageError,
    WinsockError,
)
from sporder_py.formats import catalog_toml
from sporder_py.model import Catalog, CatalogFile, Change, ProtocolEntry
from sporder_py.ops import batch
from sporder_py.resolver import resolve
from sporder_py.store import history, location, shipped, transaction

SHIPPED = ["windows-11", "windows-10", "windows-7", "windows-11-clean"]
REFUSALS = (WinsockError, UsageError, OperationRefused)
BOGUS_ID = 987654
NS_GUID = "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}"   # a GUID some shipped catalog uses
# doctor findings that no sequence of repairing operations may produce
STRUCTURAL = {"orphaned-chain", "dangling-chain-id", "chain-not-ending-in-base", "chain-length",
              "duplicate-id", "broken-base-shadowed", "namespace-duplicate"}
# No shrinking by default: a failing 25-step sequence is printed as found, in bounded time
# (shrinking one took minutes); SPORDER_MODEL_SHRINK=1 turns it on when debugging.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + (
    [Phase.shrink] if os.environ.get("SPORDER_MODEL_SHRINK") else [])
MACHINE_SETTINGS = settings(max_examples=40, stateful_step_count=25, deadline=None,
                            derandomize=True, database=None, phases=PHASES,
                            suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.filter_too_much,
                                                   HealthCheck.data_too_large])
STATS: Counter[tuple[str, str]] = Counter()     # (operation, "ok" | "no-op" | "refused")
# reset/apply with an unknown shipped name: exit 3 "no-such-default" (tests/test_cli_edit.py
# asserts that code for 'reset --to windows-99'), the one CatalogFileError an operation may
# raise.  Any other (e.g. "the result would not be a valid catalog" reported as a bad file,
# as a raw uninstall in one catalog once was) fails the machine.
NO_SUCH_DEFAULT = "no-such-default"


def tolerated(exc: SporderError) -> bool:
    """Whether a refusal is an acceptable outcome of an operation (else the test fails)."""
    return not isinstance(exc, CatalogFileError) or exc.code == NO_SUCH_DEFAULT


# ---------------------------------------------------------------------------------------------
# The independent resolver: winsock-semantics.md §2.2, from the spec text (constants as printed
# there and in §1.4/§1.9: PFL_MATCHES_PROTOCOL_ZERO = 0x08, WSAEINVAL 10022, ...).

R_WSAEINVAL, R_PROTONOSUPPORT, R_SOCKTNOSUPPORT, R_AFNOSUPPORT = 10022, 10043, 10044, 10047
R_PFL_MATCHES_PROTOCOL_ZERO = 0x08


def reference_resolve(entries: tuple[ProtocolEntry, ...], af: int, type_: int,
                      protocol: int) -> tuple[int | None, int | None]:
    """(chosen entry id, None) or (None, WSAE error) for socket(af, type, protocol)."""
    if af == 0 and protocol == 0:
        return None, R_WSAEINVAL                      # checked first, regardless of type
    err = R_SOCKTNOSUPPORT                            # nothing even matched the type
    for e in entries:                                 # in catalog order
        chain_len = {"layered": 0, "base": 1}.get(e.kind, len(e.chain))
        if chain_len == 0:
            continue                                  # layered dummy entries are invisible
        if type_ != 0 and e.socket_type != type_:
            continue
        if af != 0 and e.family != af:
            if err == R_SOCKTNOSUPPORT:
                err = R_AFNOSUPPORT
            continue
        if protocol == 0:
            ok = (e.provider_flags & R_PFL_MATCHES_PROTOCOL_ZERO) != 0
        else:
            ok = e.protocol <= protocol <= e.protocol + e.protocol_max_offset
        if ok:
            return e.id, None                         # first match wins; PFL_HIDDEN irrelevant
        err = R_PROTONOSUPPORT                        # type and af matched, protocol did not
    return None, err


BOGUS_TRIPLES = [
    (0, 0, 0), (0, 1, 0), (0, 2, 0), (0, 0, 6), (0, 1, 6), (0, 0, 255), (2, 0, 0), (2, 1, 0),
    (2, 2, 0), (2, 3, 0), (2, 3, 1), (2, 3, 255), (23, 1, 0), (23, 2, 17), (2, 1, 17),
    (0xDEAD, 0xDEAD, 6), (0xDEAD, 1, 6), (2, 0xDEAD, 6), (2, 1, 0xDEAD), (-1, -1, -1),
    (32, 1, 3), (32, 1, 0), (1, 1, 0), (34, 1, 1), (0x20, 5, 0), (0x7777, 5, 0), (2, 5, 3),
]


def test_reference_constants_match_the_library() -> None:
    assert (R_WSAEINVAL, R_PROTONOSUPPORT, R_SOCKTNOSUPPORT, R_AFNOSUPPORT) == (
        ws.WSAEINVAL, ws.WSAEPROTONOSUPPORT, ws.WSAESOCKTNOSUPPORT, ws.WSAEAFNOSUPPORT)
    assert R_PFL_MATCHES_PROTOCOL_ZERO == ws.PFL_MATCHES_PROTOCOL_ZERO


def check_resolver(cat: Catalog) -> None:
    triples = list(dict.fromkeys([e.triple for e in cat.protocols] + BOGUS_TRIPLES))
    for t in triples:
        got = resolve(cat, *t)
        assert resolve(cat, *t) == got, f"resolve{t} is not deterministic"
        want = reference_resolve(cat.protocols, *t)
        assert (got.entry.id if got.entry else None, got.error) == want, (
            f"catalog{cat.bitness}: resolve{t} gave "
            f"{(got.entry.id if got.entry else None, got.error)}, §2.2 says {want}")
        if got.entry is not None:
            assert got.layers == tuple(cat.get(i) for i in got.entry.chain_ids)


# ---------------------------------------------------------------------------------------------
# Well-formedness


def dangling(f: CatalogFile) -> list[tuple[str, int, int]]:
    return [(b, e.id, i) for b, cat in f.catalogs.items() for e in cat.protocols
            for i in e.chain if i not in cat]


def check_well_formed(f: CatalogFile, clean: bool) -> None:
    for b, cat in f.catalogs.items():
        ids = cat.ids
        assert len(ids) == len(set(ids)), f"catalog{b}: duplicate ids {ids}"
        assert all(ws.FIRST_CATALOG_ENTRY_ID <= i < f.next_entry_id for i in ids), (
            b, ids, f.next_entry_id)
        for e in cat.protocols:
            if e.kind != "chain":
                assert e.chain == (), (b, e.id, e.kind, e.chain)
                continue
            top = cat.get(e.chain[0]) if e.chain else None
            assert top is None or top.kind != "layered" or top.path == e.path, (
                f"catalog{b}: chain entry {e.id} has path {e.path!r}, its top layer "
                f"{top.id} has {top.path!r}")
            assert 2 <= len(e.chain) <= ws.MAX_PROTOCOL_CHAIN, (b, e.id, e.chain)
            assert len(set(e.chain)) == len(e.chain), f"catalog{b}: {e.id} repeats {e.chain}"
            if clean:
                assert all(i in cat for i in e.chain), f"catalog{b}: {e.id} dangles {e.chain}"
                assert cat.get(e.chain[-1]).kind == "base", (b, e.id, e.chain)  # type: ignore
                assert all(cat.get(i).kind != "base" for i in e.chain[:-1]), (  # type: ignore
                    b, e.id, e.chain)
        guids = [n.provider_id for n in cat.namespaces]
        assert len(guids) == len(set(guids)), f"catalog{b}: namespace GUID twice"


# ---------------------------------------------------------------------------------------------
# Deterministic GUIDs and the operation context


class Guids:
    """Counter-based provider GUIDs; a fresh source from the same start repeats the sequence."""

    def __init__(self, start: int) -> None:
        self.n = start

    def __call__(self) -> str:
        self.n += 1
        return f"{{5EED0000-0000-4000-8000-{self.n:012X}}}"


def ctx_at(start: int) -> tuple[batch.Ctx, Guids]:
    g = Guids(start)
    return batch.Ctx(guid=g, load_default=shipped.load_shipped), g


def selected(f: CatalogFile, spec: dict[str, Any], many: bool) -> list[str]:
    b = spec.get("bitness")
    if b in (None, "both"):
        return list(f.bitnesses) if many else [f.native]
    return [b]


# ---------------------------------------------------------------------------------------------
# Spec generators: each draws one operation (mostly valid, sometimes deliberately not) from the
# current catalog.

CATS = ["LSP_INSPECTOR", "LSP_FIREWALL", "LSP_PROXY", "LSP_CRYPTO_COMPRESS", "LSP_SYSTEM",
        "LSP_REDIRECTOR"]
APPS = [("C:\\Program Files\\App\\app.exe", ""), ("c:\\program files\\app\\APP.EXE", ""),
        ("C:\\tools\\b.exe", "-x"), ("C:\\tools\\b.exe", "")]


def _bits(data: st.DataObject) -> str | None:
    return data.draw(st.sampled_from([None, None, None, "both", "64", "32"]), label="bitness")


def _cat(data: st.DataObject, f: CatalogFile) -> Catalog:
    return f.catalog(data.draw(st.sampled_from([f.native, f.native, f.native, *f.bitnesses])))


def _pick(data: st.DataObject, f: CatalogFile, kinds: tuple[str, ...] = ("base", "layered",
          "chain"), bogus: float = 0.1) -> int:
    cat = _cat(data, f)
    pool = [e.id for e in cat.protocols if e.kind in kinds]
    if not pool or data.draw(st.integers(0, 99)) < bogus * 100:
        pool = [BOGUS_ID, f.next_entry_id]            # never assigned / not yet assigned
    return data.draw(st.sampled_from(pool))


def gen_install(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "command": "install", "name": f"Provider {data.draw(st.integers(0, 999))}",
        "path": data.draw(st.sampled_from(["%SystemRoot%\\system32\\p.dll", "C:\\p\\q.dll"])),
        "family": data.draw(st.sampled_from(["AF_INET", "inet6", "2", "AF_UNIX", "0x20",
                                             "0x7777"])),
        "type": data.draw(st.sampled_from(["SOCK_STREAM", "dgram", "3", "5"])),
        "protocol": data.draw(st.sampled_from([0, 6, "IPPROTO_UDP", 255, "0x3"]))}
    kind = data.draw(st.sampled_from(["base"] * 6 + ["layered", "chain"]))
    if kind != "base":
        spec["kind"] = kind
    if kind == "chain":
        spec["chain"] = [_pick(data, f, ("layered",)), _pick(data, f, ("base",))]
        top = next((c.get(spec["chain"][0]) for c in f.catalogs.values()
                    if spec["chain"][0] in c), None)
        if top is not None and data.draw(st.integers(0, 3)):   # else: refused (issue 13)
            spec["path"] = top.path
    if kind == "layered" and data.draw(st.booleans()):
        spec["categories"] = data.draw(st.lists(st.sampled_from(CATS), max_size=2))
    damage = data.draw(st.sampled_from([None] * 5 + ["guid", "long", "noname"]))
    if damage == "guid":                              # WSANO_RECOVERY: already installed
        spec["provider_id"] = data.draw(st.sampled_from(
            [e.provider_id for c in f.catalogs.values() for e in c.protocols] or [NS_GUID]))
    elif damage == "long":
        spec["name"] = "N" * 300                      # WSAEINVAL: over WSAPROTOCOL_LEN
    elif damage == "noname":
        del spec["name"]                              # usage error
    if (b := _bits(data)) is not None:
        spec["bitness"] = b
    return spec


def gen_install_lsp(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    spec: dict[str, Any] = {"command": "install-lsp",
                            "name": f"LSP {data.draw(st.integers(0, 999))}",
                            "path": "%SystemRoot%\\system32\\lsp.dll"}
    # over_all / over_base_only add a chain per triple (~15 per catalog): kept rare, since
    # parsing the grown file is what this test spends its time on.
    mode = data.draw(st.sampled_from(["over"] * 8 + ["over_all", "over_base_only"]))
    if mode == "over":
        spec["over"] = [_pick(data, f, ("base", "chain", "chain"), bogus=0.05)
                        for _ in range(data.draw(st.integers(1, 3)))]
        if data.draw(st.integers(0, 19)) == 0:
            spec["over"].append(_pick(data, f, ("layered",)))
    else:
        spec[mode] = True
    if data.draw(st.integers(0, 19)) == 0:
        spec["over_all"] = True                       # sometimes two modes: usage error
    if data.draw(st.booleans()):
        spec["ifs"] = True
    if data.draw(st.integers(0, 3)) == 0:
        spec["path32"] = "%SystemRoot%\\SysWOW64\\lsp.dll"
    if data.draw(st.booleans()):
        spec["categories"] = data.draw(st.lists(st.sampled_from(CATS), max_size=2))
    if data.draw(st.integers(0, 14)) == 0:
        spec["provider_id"] = data.draw(st.sampled_from(
            [e.provider_id for c in f.catalogs.values() for e in c.protocols] or [NS_GUID]))
    if (b := _bits(data)) is not None:
        spec["bitness"] = b
    return spec


def gen_chain_insert(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    spec: dict[str, Any] = {"command": "chain-insert"}
    if (b := _bits(data)) is not None:
        spec["bitness"] = b
    cat = f.catalog(selected(f, spec, many=True)[0])
    layered = [e.id for e in cat.protocols if e.kind == "layered"]
    chains = [e for e in cat.protocols if e.kind == "chain"]
    pairs = [(h, c) for h in layered for c in chains if h not in c.chain]
    if pairs and data.draw(st.integers(0, 5)):
        lsp, chain = data.draw(st.sampled_from(pairs))
        spec["lsp"] = lsp
        if data.draw(st.integers(0, 3)):
            more = [c.id for h, c in pairs if h == lsp and c.id != chain.id]
            spec["chains"] = [chain.id] + (more[:1] if more and data.draw(st.booleans()) else [])
        else:
            spec["all_over"] = data.draw(st.sampled_from(list(chain.chain)))
        ids = chain.chain
    else:                                             # mostly refused
        spec["lsp"] = data.draw(st.sampled_from(layered)) if layered else _pick(data, f)
        if chains and data.draw(st.booleans()):
            spec["chains"] = [data.draw(st.sampled_from(chains)).id]
        else:
            spec["all_over"] = _pick(data, f, ("base", "layered"), bogus=0.05)
        ids = (1001, 1002)
    placement = data.draw(st.sampled_from(["position", "above", "below", "auto"] * 3 +
                                          ["none", "two"]))
    if placement in ("position", "two"):      # 1-based; 1 (the top layer) is refused
        spec["position"] = data.draw(st.integers(2, max(2, len(ids))) if data.draw(
            st.integers(0, 5)) else st.integers(0, len(ids) + 1))
    if placement in ("above", "below", "two"):
        spec["above" if placement == "two" else placement] = data.draw(st.sampled_from(
            list(ids[:-1] if placement == "below" and len(ids) > 1 else ids)))
    if placement == "auto":
        spec["auto"] = True
    return spec


def gen_reorder(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    spec: dict[str, Any] = {"command": "reorder"}
    if (b := _bits(data)) is not None:
        spec["bitness"] = b
    ids = list(f.catalog(selected(f, spec, many=False)[0]).ids)
    ids = list(data.draw(st.permutations(ids)))
    damage = data.draw(st.sampled_from(["none"] * 6 + ["drop", "dup", "bogus"]))
    if damage in ("drop", "dup") and not ids:
        damage = "bogus"                              # an empty catalog (everything removed)
    if damage == "drop":
        ids.pop()
    elif damage == "dup":
        ids[-1] = ids[0]
    elif damage == "bogus":
        ids.append(BOGUS_ID)
    spec["ids"] = ids
    return spec


def gen_move(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    spec: dict[str, Any] = {"command": "move"}
    if (b := _bits(data)) is not None:
        spec["bitness"] = b
    ids = f.catalog(selected(f, spec, many=False)[0]).ids or [BOGUS_ID]
    spec["id"] = data.draw(st.sampled_from(ids))
    if data.draw(st.integers(0, 9)) == 0:
        spec["id"] = BOGUS_ID                         # WSAEINVAL
    where = data.draw(st.sampled_from(["top", "bottom", "before", "after", "position"]))
    if where in ("top", "bottom"):
        spec[where] = True
    elif where == "position":
        spec["position"] = data.draw(st.integers(0, len(ids) + 1))
    else:
        spec[where] = data.draw(st.sampled_from(ids))
    return spec


def gen_uninstall(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    spec: dict[str, Any] = {"command": "uninstall"}
    target = _pick(data, f, ("base", "layered", "layered", "chain", "chain"), bogus=0.15)
    if data.draw(st.integers(0, 4)) == 0:
        e = next((c.get(target) for c in f.catalogs.values() if target in c), None)
        spec["provider_id"] = e.provider_id if e else "{5EED0000-0000-4000-8000-FFFFFFFFFFFF}"
    else:
        spec["id"] = target
    if data.draw(st.booleans()):
        spec["cascade"] = True
    if (b := _bits(data)) is not None:
        spec["bitness"] = b
    return spec


def gen_namespace(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    cat = _cat(data, f)
    guids = [n.provider_id for n in cat.namespaces]
    known = data.draw(st.sampled_from(guids)) if guids else "{5EED0000-0000-4000-8000-00000000FFFF}"
    if data.draw(st.integers(0, 9)) == 0:
        known = "{5EED0000-0000-4000-8000-00000000FFFF}"  # not installed: WSAEINVAL
    command = data.draw(st.sampled_from(["namespace-install", "namespace-install",
                                         "namespace-uninstall", "namespace-enable",
                                         "namespace-disable", "namespace-reorder"]))
    spec: dict[str, Any] = {"command": command}
    if command == "namespace-install":
        spec.update(name=f"NS {data.draw(st.integers(0, 99))}", path="C:\\ns.dll",
                    namespace=data.draw(st.sampled_from(["NS_DNS", "nla", "16", "NS_BTH"])))
        if data.draw(st.booleans()):
            spec["disabled"] = True
        if data.draw(st.integers(0, 5)) == 0:
            spec["provider_id"] = known.lower()       # already installed: WSANO_RECOVERY
    elif command == "namespace-reorder":
        order = list(data.draw(st.permutations(guids)))
        if order and data.draw(st.integers(0, 5)) == 0:
            order.pop()
        spec["provider_ids"] = order
    else:
        spec["provider_id"] = known
    if (b := _bits(data)) is not None:
        spec["bitness"] = b
    return spec


def gen_categories(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    cat = _cat(data, f)
    lsps = [e.id for e in cat.protocols if e.kind == "layered" or (
        e.kind == "chain" and (top := cat.get(e.chain[0])) is not None and top.kind == "layered")]
    target = data.draw(st.sampled_from(lsps)) if lsps and data.draw(st.integers(0, 4)) else \
        _pick(data, f)
    spec: dict[str, Any] = {"command": "categories-set", "id": target,
                            "categories": data.draw(st.lists(st.sampled_from(CATS), max_size=3))}
    if (b := _bits(data)) is not None:
        spec["bitness"] = b
    return spec


def gen_app_category(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    path, args = data.draw(st.sampled_from(APPS))
    command = data.draw(st.sampled_from(["app-category-set", "app-category-remove"]))
    if f.app_categories and data.draw(st.integers(0, 4)):
        app = data.draw(st.sampled_from(f.app_categories))   # a categorized one, any case
        path, args = app.path.lower() if data.draw(st.booleans()) else app.path, app.args
    if command == "app-category-set":
        return {"command": command, "path": path, "args": args,
                "categories": data.draw(st.lists(st.sampled_from(CATS), max_size=2))}
    return {"command": command, "path": path, "args": args}


def gen_reset(data: st.DataObject, f: CatalogFile) -> dict[str, Any]:
    spec: dict[str, Any] = {"command": "reset"}
    to = data.draw(st.sampled_from([None, *SHIPPED, "windows-95"]))
    if to is not None:
        spec["to"] = to
    return spec


GENERATORS: dict[str, Callable[[st.DataObject, CatalogFile], dict[str, Any]]] = {
    "install": gen_install, "install-lsp": gen_install_lsp, "chain-insert": gen_chain_insert,
    "reorder": gen_reorder, "move": gen_move, "uninstall": gen_uninstall,
    "namespace": gen_namespace, "categories-set": gen_categories,
    "app-category": gen_app_category, "reset": gen_reset,
}


# ---------------------------------------------------------------------------------------------
# Per-operation expectations: what a successful operation must have done (before -> after).


def _same_but(before: CatalogFile, after: CatalogFile, touched: list[str],
              protocols: bool = True, namespaces: bool = True) -> None:
    """Catalogs not in ``touched`` are equal; in touched ones, the unmentioned half is equal."""
    assert after.description == before.description and after.wsk == before.wsk
    assert after.lsp_ranking == before.lsp_ranking
    for b in before.bitnesses:
        old, new = before.catalog(b), after.catalog(b)
        if b not in touched:
            assert new == old, f"catalog{b} changed though not selected"
            continue
        if not protocols:
            assert new.protocols == old.protocols, f"catalog{b} protocols changed"
        if not namespaces:
            assert new.namespaces == old.namespaces, f"catalog{b} namespaces changed"


def expect(spec: dict[str, Any], before: CatalogFile, after: CatalogFile,
           extra: dict[str, Any]) -> None:
    command = spec["command"]
    nid0, nid1 = before.next_entry_id, after.next_entry_id
    if command not in ("install", "install-lsp", "reset"):
        assert nid1 == nid0, f"{command} moved next_entry_id {nid0} -> {nid1}"
    if command not in ("app-category-set", "app-category-remove"):
        assert after.app_categories == before.app_categories
    if command == "install":
        sel = selected(before, spec, many=True)
        _same_but(before, after, sel, namespaces=False)
        assert nid1 == nid0 + 1
        for b in sel:
            old, new = before.catalog(b), after.catalog(b)
            assert new.protocols[:-1] == old.protocols, "install must only append"
            e = new.protocols[-1]
            assert (e.id, e.provider_id, e.kind) == (nid0, extra["provider_id"],
                                                     spec.get("kind", "base"))
            assert e.name == spec["name"]
    elif command == "install-lsp":
        sel = selected(before, spec, many=True)
        _same_but(before, after, sel, namespaces=False)
        hid = extra["lsp_id"]
        assert hid == nid0 and nid1 >= nid0 + 2
        new_ids = list(range(nid0, nid1))
        for b in sel:
            old, new = before.catalog(b), after.catalog(b)
            assert set(new.ids) == set(old.ids) | set(new_ids)
            # Entries updated in place: only an IFS LSP over a chain with a non-IFS layer
            # (instlsp InstallIfsLspProtocolChains), which gain exactly one new chain-entry id.
            changed = [i for i in old.ids if new.get(i) != old.get(i)]
            assert not changed or spec.get("ifs"), "old entries untouched"
            for i in changed:
                o, n = old.get(i), new.get(i)
                assert o is not None and n is not None and o.kind == n.kind == "chain"
                extra_ids = [x for x in n.chain if x not in o.chain]
                assert len(extra_ids) == 1 and extra_ids[0] in new_ids[1:], (o.chain, n.chain)
                assert n.with_changes(chain=o.chain) == o, "only the chain changes in place"
                k = n.chain.index(extra_ids[0])
                prev = new.get(n.chain[k - 1])
                assert k >= 1 and prev is not None and not prev.is_ifs, (
                    "inserted directly below a non-IFS layer", n.chain)
            if not changed:
                assert new.ids[:len(new_ids) - 1] == new_ids[1:], "the LSP's chains go on top"
                assert [i for i in new.ids if i in old] == old.ids, "relative order kept"
            h = new.get(hid)
            assert h is not None and h.kind == "layered" and h.provider_id == extra["provider_id"]
            assert h.is_hidden
            want_path = spec["path32"] if b == "32" and "path32" in spec else spec["path"]
            assert h.path == want_path
            targets = []                              # what each new chain layers over
            for i in new_ids[1:]:
                c = new.get(i)
                assert c is not None and c.kind == "chain" and c.chain.count(hid) == 1
                assert c.chain[0] == hid and c.path == want_path
                targets.append(c.chain[1:])
            stacks = {e.chain_ids for e in old.protocols}
            if "over" in spec and not changed:        # one chain per target given (once each)
                assert sorted(targets) == sorted(
                    old.get(i).chain_ids for i in dict.fromkeys(spec["over"]))  # type: ignore
            else:                                     # a target's stack, or its tail (IFS)
                assert all(any(s[-len(t):] == t for s in stacks) for t in targets), targets
            if spec.get("ifs"):                       # directly below the lowest non-IFS layer
                for i in new_ids[1:]:
                    chain = new.get(i).chain                                 # type: ignore
                    below = chain[chain.index(hid) + 1:-1]
                    assert all(x.is_ifs for j in below if (x := new.get(j))), (chain, below)
            # The new chains win: a triple a new chain (a copy of its target's family, type,
            # protocol range and flags) answers now resolves to one of the new chains, or to an
            # entry updated in place to run one.
            for i in new_ids[1:]:
                c = new.get(i)
                if reference_resolve((c,), *c.triple)[0] is not None:       # type: ignore
                    got = reference_resolve(new.protocols, *c.triple)[0]      # type: ignore
                    assert got in new_ids[1:] or (got in changed and set(
                        new.get(got).chain) & set(new_ids)), (b, c.triple, got, new_ids)
    elif command == "chain-insert":
        sel = selected(before, spec, many=True)
        _same_but(before, after, sel, namespaces=False)
        lsp = spec["lsp"]
        touched = 0
        for b in sel:
            old, new = before.catalog(b), after.catalog(b)
            assert new.ids == old.ids, "chain-insert keeps ids and order"
            for o, n in zip(old.protocols, new.protocols, strict=True):
                if o == n:
                    continue
                touched += 1
                assert n.kind == "chain" and n.chain.count(lsp) == 1 and lsp not in o.chain
                assert tuple(x for x in n.chain if x != lsp) == o.chain
                assert n.chain[-1] == o.chain[-1], "the base provider stays last"
                assert n.with_changes(chain=o.chain, service_flags=o.service_flags) == o
                at = n.chain.index(lsp)
                assert at >= 1, "chain-insert never replaces the top layer (issue 13)"
                if "position" in spec:
                    assert at == spec["position"] - 1          # 1-based
                elif "above" in spec:
                    assert at == o.chain.index(spec["above"])
                elif "below" in spec:
                    assert at == o.chain.index(spec["below"]) + 1
                elif spec.get("auto"):                # the IFS rule (anchor-tools §2.2)
                    ifs = [x.is_ifs if (x := new.get(i)) else None for i in n.chain[:-1]]
                    if ifs[at]:
                        assert all(v is not False for v in ifs[at + 1:]), (n.chain, ifs)
                    else:
                        assert all(v is not True for v in ifs[:at]), (n.chain, ifs)
                if "chains" in spec and "all_over" not in spec:
                    assert n.id in spec["chains"]
        assert touched >= 1
    elif command in ("reorder", "move"):
        (b,) = selected(before, spec, many=False)
        _same_but(before, after, [b], namespaces=False)
        old, new = before.catalog(b), after.catalog(b)
        assert sorted(new.protocols, key=lambda e: e.id) == sorted(old.protocols,
                                                                  key=lambda e: e.id)
        if command == "reorder":
            assert new.ids == spec["ids"]
        else:
            rest = [i for i in old.ids if i != spec["id"]]
            if spec.get("top"):
                at = 0
            elif spec.get("bottom"):
                at = len(rest)
            elif "position" in spec:
                at = spec["position"] - 1
            elif "before" in spec:
                at = rest.index(spec["before"])
            else:
                at = rest.index(spec["after"]) + 1
            assert new.ids == rest[:at] + [spec["id"]] + rest[at:]
    elif command == "uninstall":
        sel = selected(before, spec, many=True)
        _same_but(before, after, sel, namespaces=False)
        for b in sel:
            old, new = before.catalog(b), after.catalog(b)
            assert set(new.ids) <= set(old.ids), "uninstall adds nothing"
            assert [i for i in old.ids if i in new] == new.ids, "relative order kept"
            for n in new.protocols:
                o = old.get(n.id)
                if n.kind != "chain":
                    assert n == o
                else:                                 # only ids stripped (and a new name)
                    it = iter(o.chain)                # type: ignore[union-attr]
                    assert all(x in it for x in n.chain), (o, n)
                    assert n.with_changes(chain=o.chain, name=o.name,  # type: ignore
                                          service_flags=o.service_flags) == o
            if "id" in spec:
                seeds = [old.get(spec["id"])] if spec["id"] in old else []
            else:
                guid = catalog_toml.normalize_guid(spec["provider_id"])
                seeds = [e for e in old.protocols if e.provider_id == guid]
            gone = set()
            orphans = {c.id for c in old.protocols if c.kind == "chain" and c.chain[0] not in old}
            for e in seeds:
                top = old.get(e.chain[0]) if e.kind == "chain" else None
                if top is not None and top.kind == "layered":
                    gone.add(top.id)                  # the whole LSP goes
                elif e.id in orphans:
                    gone |= orphans                   # instlsp BuildLspMap: one orphan group
                elif e.kind != "chain":
                    gone.add(e.id)
            for g in [g for g in gone if (x := old.get(g)) is not None and x.kind == "layered"]:
                assert not [c.id for c in new.protocols if c.chain[:1] == (g,)], (
                    f"catalog{b}: a chain entry of removed LSP {g} survived")
            for g in gone:
                assert g not in new, f"catalog{b}: {g} survived its uninstall"
                assert not [c.id for c in new.protocols if g in c.chain], (
                    f"catalog{b}: chains still name removed {g}")
    elif command.startswith("namespace-"):
        many = command != "namespace-reorder"
        sel = selected(before, spec, many=many)
        _same_but(before, after, sel, protocols=False)
        for b in sel:
            old, new = before.catalog(b).namespaces, after.catalog(b).namespaces
            guid = catalog_toml.normalize_guid(spec.get("provider_id") or "") or \
                extra.get("provider_id")
            if command == "namespace-install":
                assert new[:-1] == old and new[-1].provider_id == extra["provider_id"]
                assert new[-1].enabled is not bool(spec.get("disabled"))
            elif command == "namespace-uninstall":
                assert new == tuple(n for n in old if n.provider_id != guid)
            elif command in ("namespace-enable", "namespace-disable"):
                want = command == "namespace-enable"
                assert new == tuple(replace(n, enabled=want) if n.provider_id == guid else n
                                    for n in old)
            else:
                assert [n.provider_id for n in new] == [
                    catalog_toml.normalize_guid(g) for g in spec["provider_ids"]]
                assert sorted(new, key=repr) == sorted(old, key=repr)
    elif command == "categories-set":
        sel = selected(before, spec, many=True)
        _same_but(before, after, sel, namespaces=False)
        value = ws.parse_flags(spec["categories"], ws.LSP_CATEGORIES, "LSP category")
        for b in sel:
            old, new = before.catalog(b), after.catalog(b)
            e = old.get(spec["id"])
            hid = e.id if e.kind == "layered" else e.chain[0]    # type: ignore[union-attr]
            assert new.get(hid).lsp_categories == value        # type: ignore[union-attr]
            assert all(n == o or n.id == hid
                       for n, o in zip(new.protocols, old.protocols, strict=True))
            assert new.ids == old.ids
    elif command in ("app-category-set", "app-category-remove"):
        _same_but(before, after, [])
        key = (spec["path"].upper(), spec["args"])
        old = {(a.path.upper(), a.args): a.categories for a in before.app_categories}
        new = {(a.path.upper(), a.args): a.categories for a in after.app_categories}
        if command == "app-category-set":
            value = ws.parse_flags(spec["categories"], ws.LSP_CATEGORIES, "LSP category")
            assert new == {**old, key: old.get(key, 0) | value}
        else:
            assert key in old and new == {k: v for k, v in old.items() if k != key}
    elif command == "reset":
        default = shipped.load_shipped(spec.get("to", "windows-11"))
        assert nid1 == default.next_entry_id
        for b in before.bitnesses:
            assert after.catalog(b).protocols == default.catalog(b).protocols
            assert after.catalog(b).namespaces == before.catalog(b).namespaces
    else:  # pragma: no cover
        raise AssertionError(f"no expectation for {command}")


def fold(before: CatalogFile, specs: list[dict[str, Any]], start: int,
         ) -> tuple[CatalogFile | None, SporderError | None, int]:
    """The oracle for a batch: each op on its own, in order, each checked by ``expect``."""
    ctx, g = ctx_at(start)
    f = before
    for i, spec in enumerate(specs, 1):
        try:
            nxt, _changes, extra = batch.run_one(f, spec, where=f"fold #{i}", ctx=ctx)
        except SporderError as exc:
            return None, exc, i
        expect(spec, f, nxt, extra)
        f = nxt
    return f, None, 0


# ---------------------------------------------------------------------------------------------
# The machine


class CatalogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # tmpfs when there is one: the machine makes ~2000 fsyncs, which cost nothing there
        # and seconds on a disk; durability is not what this test is about.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) \
            else None
        self.dir = Path(tempfile.mkdtemp(prefix="sporder-model-", dir=shm))
        self.loc = location.Location(self.dir / "catalog.toml", "option")
        self.started = False
        self.cache: tuple[bytes, Any] = (b"", None)
        self.guid_n = 0
        # The reference model.
        self.serial = 1
        self.hist_len = 0
        self.snap: dict[int, CatalogFile] = {}     # serial -> content of the file at it
        self.raw: dict[int, bytes] = {}            # serial -> exact bytes of the file at it
        self.utarget: dict[int, int] = {}          # serial -> undo target of its record
        self.kept: set[int] = set()                # serials whose state file is kept
        self.clean: dict[int, bool] = {}           # serial -> no dangling chain ids expected

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------------

    def read(self) -> CatalogFile:
        """The file as it is now (parsed once per distinct content: parsing dominates)."""
        data = Path(self.loc.path).read_bytes()
        if self.cache[0] != data:
            self.cache = (data, catalog_toml.loads(data.decode("utf-8"), "test")[0])
        return self.cache[1]

    def fs(self, with_lock: bool = True) -> tuple[Any, ...]:
        st_ = os.stat(self.loc.path)
        names = sorted(p for p in os.listdir(self.dir)
                       if with_lock or p != os.path.basename(self.loc.lock_path))
        hdir = Path(self.loc.history_dir)
        states = sorted(os.listdir(hdir)) if hdir.is_dir() else []
        return (Path(self.loc.path).read_bytes(), st_.st_ino, st_.st_mtime_ns, st_.st_size, names,
                states)

    def model_undo(self, steps: int) -> int | None:
        serial = self.serial
        for _ in range(steps):
            if serial not in self.utarget:
                return None
            serial = self.utarget[serial]
        return serial if serial in self.kept else None

    def mutate(self, label: str, make_op: Callable[[int], tuple[transaction.Operation, Guids]],
               data: st.DataObject, *, undo_target: Callable[[CatalogFile], int] | None = None,
               expected_target: int | None = None,
               ) -> tuple[CatalogFile, CatalogFile, transaction.Outcome] | SporderError:
        """One write through the store, with the model's serial/history/dry-run/refusal checks.
        Returns (before, after, outcome) or the refusal."""
        before = self.read()
        assert before.serial == self.serial
        snap = self.fs()
        start = self.guid_n
        dry: transaction.Outcome | SporderError | None = None
        if data.draw(st.integers(0, 3)) == 0:        # a quarter of the writes: dry run first
            op, _ = make_op(start)
            try:
                dry = transaction.mutate(self.loc, op, command=f"model {label}",
                                   summary=lambda c: f"{label}: {len(c)}", dry_run=True,
                                   undo_target=undo_target)
            except REFUSALS + (CatalogFileError,) as exc:
                if not tolerated(exc):
                    raise
                dry = exc
            assert self.fs() == snap, f"dry run of {label} touched the files"
        op, g = make_op(start)
        try:
            out = transaction.mutate(self.loc, op, command=f"model {label}",
                               summary=lambda c: f"{label}: {len(c)}", lock_timeout=10,
                               undo_target=undo_target)
        except REFUSALS + (CatalogFileError,) as exc:
            if not tolerated(exc):
                raise
            STATS[(label, "refused")] += 1
            assert self.fs(with_lock=False) == snap[:4] + (
                [n for n in snap[4] if n != os.path.basename(self.loc.lock_path)], snap[5]), (
                f"refused {label} ({exc.code}) changed the files")
            if dry is not None:
                assert isinstance(dry, SporderError), f"dry run passed, real run refused: {exc}"
                assert (type(dry), dry.code) == (type(exc), exc.code)
            return exc
        self.guid_n = g.n
        after = self.read()
        if dry is not None:
            assert not isinstance(dry, SporderError), f"dry run refused: {dry}"
            assert dry.changes == out.changes and dry.after.same_content(out.after)
            assert dry.dry_run and not out.dry_run
        written = after.serial != before.serial
        if not written:
            STATS[(label, "no-op")] += 1
            assert self.fs(with_lock=False)[:4] == snap[:4]
            assert out.changes == [] and out.after.same_content(before)
            return before, after, out
        STATS[(label, "ok")] += 1
        assert after == out.after, "the file holds exactly the outcome"
        assert out.changes, f"{label} wrote without a change"
        # A single operation that changes nothing must not write; undo always records itself
        # and a batch's operations may cancel out (move X top, move X back).
        assert label in ("undo", "apply") or not after.same_content(before), \
            f"{label}: a write that changes nothing"
        assert after.serial == self.serial + 1
        assert len(after.history) == self.hist_len + 1
        rec = after.history[-1]
        assert (rec.serial_before, rec.serial_after) == (self.serial, self.serial + 1)
        want_target = self.serial if expected_target is None else expected_target
        assert rec.undo_target == want_target
        kept_state = Path(self.loc.history_dir) / f"{self.serial}.toml"
        assert kept_state.read_bytes() == snap[0], "undo keeps the exact previous bytes"
        self.kept.add(self.serial)
        self.kept = set(sorted(self.kept)[-history.KEEP_STATES:])
        self.serial += 1
        self.hist_len = min(self.hist_len + 1, history.KEEP_RECORDS)
        self.utarget[self.serial] = want_target
        self.snap[self.serial] = after
        self.raw[self.serial] = Path(self.loc.path).read_bytes()
        self.clean[self.serial] = not dangling(after)
        return before, after, out

    def spec_op(self, specs: list[dict[str, Any]], single: bool,
                ) -> Callable[[int], tuple[transaction.Operation, Guids]]:
        def make(start: int) -> tuple[transaction.Operation, Guids]:
            ctx, g = ctx_at(start)
            if single:
                return (lambda f: batch.run_one(f, specs[0], where=specs[0]["command"],
                                                ctx=ctx)), g
            return (lambda f: batch.run_batch(f, specs, source="batch", ctx=ctx)), g
        return make

    def run_spec(self, label: str, spec: dict[str, Any], data: st.DataObject) -> None:
        was_clean = self.clean[self.serial]
        res = self.mutate(label, self.spec_op([spec], True), data)
        if isinstance(res, SporderError):
            return
        before, after, out = res
        expect(spec, before, after, out.extra)
        if was_clean:
            assert not dangling(after), f"{label} left dangling chain ids {dangling(after)}"

    # -- rules -----------------------------------------------------------------------------------

    @initialize(name=st.sampled_from(SHIPPED), lsps=st.sampled_from([0, 1, 2, 2, 3, 3]),
                data=st.data())
    def start(self, name: str, lsps: int, data: st.DataObject) -> None:
        shutil.copy(shipped.shipped_path(name), self.loc.path)
        f = self.read()
        self.serial, self.hist_len = f.serial, len(f.history)
        self.snap[self.serial] = f
        self.raw[self.serial] = Path(self.loc.path).read_bytes()
        self.clean[self.serial] = not dangling(f)
        self.started = True
        # Most runs start with a few LSPs installed (through the same checked path), so that
        # chain-insert, categories and uninstall meet layered entries and stacked chains.
        for k in range(lsps):
            cat = self.read().catalog(self.read().native)
            targets = [e.id for e in cat.protocols if e.kind != "layered" and e.chain_len < 6]
            spec = {"command": "install-lsp", "name": f"Seed LSP {k}",
                    "path": "%SystemRoot%\\system32\\seed.dll",
                    "over": data.draw(st.lists(st.sampled_from(targets), min_size=1,
                                               max_size=3, unique=True)),
                    "categories": data.draw(st.lists(st.sampled_from(CATS), max_size=2))}
            if data.draw(st.booleans()):
                spec["ifs"] = True
            self.run_spec("install-lsp", spec, data)

    @rule(data=st.data())
    def install(self, data: st.DataObject) -> None:
        self.run_spec("install", gen_install(data, self.read()), data)

    @rule(data=st.data())
    def install_lsp(self, data: st.DataObject) -> None:
        self.run_spec("install-lsp", gen_install_lsp(data, self.read()), data)

    @rule(data=st.data())
    def install_lsp_again(self, data: st.DataObject) -> None:   # LSPs are what the rest needs
        self.run_spec("install-lsp", gen_install_lsp(data, self.read()), data)

    @rule(data=st.data())
    def chain_insert(self, data: st.DataObject) -> None:
        self.run_spec("chain-insert", gen_chain_insert(data, self.read()), data)

    def has_lsp_and_chain(self) -> bool:
        if not self.started:
            return False
        cat = self.read().catalog(self.read().native)
        chains = [e.chain for e in cat.protocols if e.kind == "chain"]
        return any(e.kind == "layered" and any(e.id not in c for c in chains)
                   for e in cat.protocols)

    @precondition(has_lsp_and_chain)
    @rule(data=st.data())
    def chain_insert_when_possible(self, data: st.DataObject) -> None:
        self.run_spec("chain-insert", gen_chain_insert(data, self.read()), data)

    @rule(data=st.data())
    def reorder(self, data: st.DataObject) -> None:
        self.run_spec("reorder", gen_reorder(data, self.read()), data)

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        self.run_spec("move", gen_move(data, self.read()), data)

    @rule(data=st.data())
    def uninstall(self, data: st.DataObject) -> None:
        self.run_spec("uninstall", gen_uninstall(data, self.read()), data)

    def has_chain(self) -> bool:
        return self.started and any(e.kind == "chain" for c in self.read().catalogs.values()
                                    for e in c.protocols)

    @precondition(has_chain)                          # so that there is something to break
    @rule(data=st.data())
    def uninstall_no_repair_then_doctor_fix(self, data: st.DataObject) -> None:
        f = self.read()
        spec = gen_uninstall(data, f)
        spec.pop("cascade", None)
        used = sorted({i for e in f.catalog(f.native).protocols for i in e.chain})
        if used and data.draw(st.integers(0, 3)):    # mostly what chains depend on, everywhere
            spec = {"command": "uninstall", "id": data.draw(st.sampled_from(used))}
        spec["no_repair"] = True
        res = self.mutate("uninstall --no-repair", self.spec_op([spec], True), data)
        if isinstance(res, SporderError):
            return
        before, after, _ = res
        for b in selected(before, spec, many=True):
            old = before.catalog(b)
            if "id" in spec:
                guid = old.get(spec["id"]).provider_id if spec["id"] in old else None
            else:
                guid = catalog_toml.normalize_guid(spec["provider_id"])
            assert after.catalog(b).protocols == tuple(
                e for e in old.protocols if e.provider_id != guid), "raw WSCDeinstallProvider"
        res = self.mutate("doctor --fix", lambda start: ((lambda f: integrity.fix(f)),
                                                        Guids(start)), data)
        assert not isinstance(res, SporderError), f"doctor --fix refused: {res}"
        fixed = res[1]
        assert not dangling(fixed), f"doctor --fix left {dangling(fixed)}"
        assert not [x for x in integrity.check(fixed) if x.code in integrity.REPAIRABLE]
        assert set(fixed.catalog(fixed.native).ids) <= set(after.catalog(after.native).ids)
        self.clean[self.serial] = True

    @rule(data=st.data())
    def namespace(self, data: st.DataObject) -> None:
        spec = gen_namespace(data, self.read())
        self.run_spec(spec["command"], spec, data)

    @rule(data=st.data())
    def categories_set(self, data: st.DataObject) -> None:
        self.run_spec("categories-set", gen_categories(data, self.read()), data)

    @rule(data=st.data())
    def lsp_then_categories_set(self, data: st.DataObject) -> None:
        """An LSP installed, then its categories set: categories-set on a real LSP is exercised
        whatever the other rules happened to leave in the catalog."""
        self.run_spec("install-lsp", gen_install_lsp(data, self.read()), data)
        self.run_spec("categories-set", gen_categories(data, self.read()), data)

    @rule(data=st.data())
    def app_category(self, data: st.DataObject) -> None:
        spec = gen_app_category(data, self.read())
        self.run_spec(spec["command"], spec, data)

    @rule(data=st.data())
    def reset(self, data: st.DataObject) -> None:
        self.run_spec("reset", gen_reset(data, self.read()), data)

    @precondition(lambda self: self.hist_len > 0)
    @rule(data=st.data(), steps=st.integers(1, 3))
    def undo(self, data: st.DataObject, steps: int) -> None:
        predicted = self.model_undo(steps)
        targets: dict[str, int] = {}
        loc = self.loc

        def op(before: CatalogFile) -> tuple[CatalogFile, list[Change]]:   # as cli.undo_cmd
            target = history.undo_plan(before, steps)
            after = history.restore(before, history.load_state(loc, before, target))
            targets["serial"] = target
            return after, diff_files(before, after) or [
                Change("update", "", None, "undo", detail=f"state of serial {target} is "
                       "identical")]

        def target_of_undo(before: CatalogFile) -> int:
            restored = targets["serial"]
            rec = {h.serial_after: h for h in before.history}.get(restored)
            return rec.undo_target if rec else 0

        expected = None if predicted is None else self.utarget.get(predicted, 0)
        res = self.mutate("undo", lambda start: (op, Guids(start)), data,
                          undo_target=target_of_undo, expected_target=expected)
        if predicted is None:
            assert isinstance(res, OperationRefused) and res.code in (
                "nothing-to-undo", "state-not-kept"), f"undo {steps} should be refused: {res}"
            return
        assert not isinstance(res, SporderError), f"undo {steps} to {predicted} refused: {res}"
        _, after, _ = res
        want = self.snap[predicted]
        assert targets["serial"] == predicted
        assert after.catalogs == want.catalogs, f"undo {steps} did not restore serial {predicted}"
        assert after.next_entry_id == want.next_entry_id
        assert after.same_content(want)
        self.clean[self.serial] = self.clean[predicted]

    @rule(data=st.data())
    def apply(self, data: st.DataObject) -> None:
        before = self.read()
        kinds = data.draw(st.lists(st.sampled_from(sorted(GENERATORS) + [
            "install-lsp", "move", "chain-insert", "namespace", "app-category",
            "categories-set"] * 2), min_size=2, max_size=4))
        # Each operation is drawn against the catalog the batch has made so far (up to three
        # tries for one that passes there), so that most batches can succeed as a whole.
        specs, f, n = [], before, self.guid_n
        for k in kinds:
            for _ in range(3):
                spec = GENERATORS[k](data, f)
                ctx, g = ctx_at(n)
                try:
                    nxt: CatalogFile | None = batch.run_one(f, spec, ctx=ctx)[0]
                except SporderError:
                    nxt = None
                    continue
                break
            specs.append(spec)
            if nxt is not None:
                f, n = nxt, g.n
        # Sometimes the last operation is one that certainly fails: nothing may be written.
        poison = data.draw(st.sampled_from([None] * 9 + ["unknown", "refused", "usage"]))
        if poison == "unknown":
            specs[-1] = {"command": "explode"}
        elif poison == "refused":
            specs[-1] = {"command": "uninstall", "id": BOGUS_ID}
        elif poison == "usage":
            specs[-1] = {"command": "move", "id": BOGUS_ID}   # no placement
        want, err, at = fold(before, specs, self.guid_n)
        was_clean = self.clean[self.serial]
        res = self.mutate("apply", self.spec_op(specs, False), data)
        if err is not None:
            assert isinstance(res, SporderError), f"batch passed, op #{at} alone fails: {err}"
            assert (type(res), res.code) == (type(err), err.code)
            assert res.message.startswith(f"batch: operation #{at}"), res.message
            return
        assert not isinstance(res, SporderError), f"batch refused, the ops alone pass: {res}"
        assert want is not None
        after = res[1]
        assert after.same_content(want), "the batch differs from its operations in order"
        if was_clean:
            assert not dangling(after)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def file_matches_model(self) -> None:
        if not self.started:
            return
        f = self.read()
        data = self.cache[0]
        assert f.serial == self.serial and len(f.history) == self.hist_len
        assert data == self.raw[self.serial]
        assert f.same_content(self.snap[self.serial])
        hdir = Path(self.loc.history_dir)
        kept = {int(p.stem) for p in hdir.glob("*.toml")} if hdir.is_dir() else set()
        assert kept == self.kept
        assert not list(self.dir.glob(".catalog.toml.*.tmp")), "a temp file was left behind"
        check_well_formed(f, self.clean[self.serial])
        if self.serial in self.utarget:              # written by sporder: canonical layout
            assert catalog_toml.dumps(f) == data.decode("utf-8"), "the file is not canonical"
        if self.clean[self.serial]:
            bad = [x.message for x in integrity.check(f) if x.code in STRUCTURAL]
            assert not bad, bad
        for cat in f.catalogs.values():
            check_resolver(cat)


def test_reference_resolver_on_the_documented_vectors() -> None:
    """The re-implementation itself reproduces §3 vectors quoted in §2.2 on windows-11."""
    cat = shipped.load_shipped("windows-11").catalog("64")
    assert reference_resolve(cat.protocols, 0xDEAD, 0xDEAD, 6) == (None, R_SOCKTNOSUPPORT)
    assert reference_resolve(cat.protocols, 0xDEAD, 1, 6) == (None, R_AFNOSUPPORT)
    assert reference_resolve(cat.protocols, 0, 1, 0) == (None, R_WSAEINVAL)
    tcp = reference_resolve(cat.protocols, 2, 1, 0)[0]
    assert cat.get(tcp).triple == (2, 1, 6)                       # type: ignore[union-attr]
    assert reference_resolve(cat.protocols, 2, 1, 17) == (None, R_PROTONOSUPPORT)
    assert reference_resolve((), 2, 1, 6) == (None, R_SOCKTNOSUPPORT)


def test_no_repair_uninstall_in_one_catalog_is_not_a_catalog_file_error(tmp_path: Path) -> None:
    """Windows' WSCDeinstallProvider (64-bit catalog only) leaves the 64-bit chains dangling
    (winsock-semantics §4.3, M8); the two catalogs are independent lists (DESIGN §1).  sporder
    must either record that state (doctor --fix then repairs it) or refuse the operation (exit
    1); it must not blame the untouched, valid catalog file (exit 3)."""
    loc = location.Location(tmp_path / "catalog.toml", "option")
    shutil.copy(shipped.shipped_path("windows-11"), loc.path)
    ctx, _ = ctx_at(0)

    def run(spec: dict[str, Any]) -> transaction.Outcome:
        return transaction.mutate(loc, lambda f: batch.run_one(f, spec, ctx=ctx), command="t",
                            summary=lambda c: "t")
    run({"command": "install-lsp", "name": "L", "path": "l.dll", "over": [1003]})
    before = Path(loc.path).read_bytes()
    try:
        out = run({"command": "uninstall", "id": 1015, "no_repair": True, "bitness": "64"})
    except CatalogFileError as exc:
        assert Path(loc.path).read_bytes() == before
        pytest.fail(f"exit {exc.exit_code} ({exc.code}): {exc.message}")
    except OperationRefused:
        assert Path(loc.path).read_bytes() == before     # a clear refusal is acceptable
        return
    assert 1015 not in out.after.catalog("64") and 1015 in out.after.catalog("32")


def test_undo_past_the_first_state_is_nothing_to_undo(cli, catalog_path: Path) -> None:
    """Found by the machine: after one write and its undo, the undo record's target is 0 (the
    first state has no record), so a second undo asks load_state(0)."""
    assert cli("--catalog", catalog_path, "move", "1001", "--bottom").code == 0
    assert cli("--catalog", catalog_path, "undo").code == 0
    before = catalog_path.read_bytes()
    again = cli("--catalog", catalog_path, "undo", "--json")
    assert again.code == 1 and catalog_path.read_bytes() == before
    error = again.json["error"]
    assert "no longer kept" not in error["message"], error["message"]
    assert error["code"] == "nothing-to-undo"


def coverage_problems(stats: Counter[tuple[str, str]]) -> list[str]:
    """What the run failed to exercise (groups, so that the check does not hang on luck)."""
    ok = {label for (label, what), n in stats.items() if what == "ok"}
    refused = {label for (label, what), n in stats.items() if what == "refused"}
    groups = {"install": {"install"}, "install-lsp": {"install-lsp"},
              "chain-insert": {"chain-insert"}, "reorder/move": {"reorder", "move"},
              "uninstall": {"uninstall"}, "uninstall --no-repair": {"uninstall --no-repair"},
              "doctor --fix": {"doctor --fix"}, "categories-set": {"categories-set"},
              "namespace": {x for x in ok | refused if x.startswith("namespace-")},
              "app-category": {"app-category-set", "app-category-remove"},
              "reset": {"reset"}, "undo": {"undo"}, "apply": {"apply"}}
    out = [f"{g} never succeeded" for g, labels in groups.items() if not labels & ok]
    if "apply" not in refused or len(refused) < 8:
        out.append(f"too few kinds of refusal: {sorted(refused)}")
    return out


def test_model_based_catalog_machine() -> None:
    STATS.clear()
    run_state_machine_as_test(CatalogMachine, settings=MACHINE_SETTINGS)
    print("\nmodel-based run:", dict(sorted(STATS.items())))
    assert not coverage_problems(STATS), (coverage_problems(STATS), dict(STATS))
