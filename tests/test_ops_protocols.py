"""Tests for the protocol-catalog mutations (sporder_py.ops: install, install_lsp, chain_insert,
order, uninstall) and the LSP map (sporder_py.lspmap).

Facts: winsock-semantics.md §1.2 (chains, hidden entry), §4.1-§4.5 (install, deinstall, order,
update), §4.7 (shared ids), §4.10 (mutation vectors M1-M8), §7 (LSP categories);
anchor-tools.md §2 (instlsp's install, IFS rule, remove with dependency repair, LSP map).
All catalogs are the shipped ones in catalogs/.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sporder_py import winsock as ws
from sporder_py.errors import UsageError, WinsockError
from sporder_py.formats import catalog_toml
from sporder_py.lspmap import lsp_map
from sporder_py.model import CatalogFile, ProtocolEntry
from sporder_py.ops.chain_insert import chain_insert
from sporder_py.ops.install import install
from sporder_py.ops.install_lsp import Targets, install_lsp
from sporder_py.ops.order import move, reorder
from sporder_py.ops.uninstall import uninstall
from sporder_py.resolver import resolve

CATALOGS = Path(__file__).resolve().parent.parent / "catalogs"
BOTH = ["64", "32"]
INSPECTOR = ws.LSP_CATEGORIES["LSP_INSPECTOR"]
CRYPTO = ws.LSP_CATEGORIES["LSP_CRYPTO_COMPRESS"]
FIREWALL = ws.LSP_CATEGORIES["LSP_FIREWALL"]
G = "{0D0D0D0D-1111-2222-3333-444444444444}"
G2 = "{0D0D0D0D-1111-2222-3333-555555555555}"
G3 = "{0D0D0D0D-1111-2222-3333-666666666666}"
IFS = ws.XP1_IFS_HANDLES


@functools.cache
def load(name: str) -> CatalogFile:
    f, warnings = catalog_toml.loads((CATALOGS / f"{name}.toml").read_text(), name)
    assert warnings == []
    return f


def classic() -> CatalogFile:
    """winsock-semantics §1.10's classic catalog (ids 1001-1005, Next = 1006): the first five
    entries of the shipped Windows 7 catalog, which are exactly that table."""
    w7 = load("windows-7")
    cat = w7.catalog("64")
    return replace(w7, catalogs={"64": cat.with_protocols([e for e in cat.protocols
                                                           if e.id <= 1005])},
                   next_entry_id=1006)


def guids() -> Callable[[], str]:
    n = itertools.count(1)
    return lambda: f"{{C0DEC0DE-0000-0000-0000-{next(n):012X}}}"


def lsp(f: CatalogFile, name: str, guid: str, *, over: tuple[int, ...] = (),
        over_all: bool = False, ifs: bool = False, categories: int = 0,
        bitnesses: list[str] = BOTH) -> tuple[CatalogFile, int]:
    f, _, hid = install_lsp(f, name=name, path=rf"%SystemRoot%\system32\{name}.dll",
                            provider_id=guid, targets=Targets(over=over, over_all=over_all),
                            ifs=ifs, categories=categories, bitnesses=bitnesses,
                            new_guid=guids())
    return f, hid


def refused(code: int, needles: tuple[str, ...], fn: Callable[..., Any], f: CatalogFile,
            *args: Any, **kwargs: Any) -> WinsockError:
    """The refusal carries the WSAE number and names what is wrong; the input is untouched."""
    before = copy.deepcopy(f)
    with pytest.raises(WinsockError) as info:
        fn(f, *args, **kwargs)
    assert info.value.winsock_error == code
    assert info.value.exit_code == 1
    for needle in needles:
        assert needle in info.value.message
    assert f == before
    return info.value


def chain_of(f: CatalogFile, entry_id: int, bitness: str = "64") -> tuple[int, ...]:
    e = f.catalog(bitness).get(entry_id)
    assert e is not None
    return e.chain


def dangling(f: CatalogFile) -> list[tuple[str, int, int]]:
    return [(b, e.id, i) for b, cat in f.catalogs.items() for e in cat.protocols
            for i in e.chain if i not in cat]


# ---------------------------------------------------------------------------------------------
# §4.10 mutation vectors on the classic layout


def test_classic_fixture_is_the_section_1_10_table() -> None:
    cat = classic().catalog("64")
    assert [(e.id, e.triple, e.service_flags, e.provider_flags) for e in cat.protocols] == [
        (1001, (2, 1, 6), 0x20066, 0x08), (1002, (2, 2, 17), 0x20609, 0x08),
        (1003, (2, 3, 0), 0x20609, 0x0C), (1004, (23, 1, 6), 0x20066, 0x08),
        (1005, (23, 2, 17), 0x20609, 0x08)]


def _two_entries(f: CatalogFile) -> list[ProtocolEntry]:
    cat = f.catalog("64")
    return [replace(cat.get(1001), id=0, name="Vendor TCP"),  # type: ignore[arg-type]
            replace(cat.get(1002), id=4242, name="Vendor UDP")]  # type: ignore[arg-type]


def test_M1_install_two_entries_appends_consecutive_ids() -> None:
    f = classic()
    out, changes = install(f, _two_entries(f), G.lower(), ["64"])
    cat = out.catalog("64")
    assert cat.ids == [1001, 1002, 1003, 1004, 1005, 1006, 1007]
    assert [cat.get(i).provider_id for i in (1006, 1007)] == [G, G]  # type: ignore[union-attr]
    assert out.next_entry_id == 1008
    assert [(c.action, c.id, c.detail) for c in changes] == [
        ("add", 1006, "appended at position 6"), ("add", 1007, "appended at position 7")]


def test_M2_install_same_guid_again_is_refused() -> None:
    f = classic()
    out, _ = install(f, _two_entries(f), G, ["64"])
    refused(ws.WSANO_RECOVERY, (G, "already installed", "1006, 1007"), install, out,
            _two_entries(f), G, ["64"])


@pytest.mark.parametrize("repair", [True, False])
def test_M3_deinstall_removes_both_and_ids_are_never_reused(repair: bool) -> None:
    f = classic()
    out, _ = install(f, _two_entries(f), G, ["64"])
    out, changes = uninstall(out, provider_id=G, repair=repair, bitnesses=["64"])
    assert out.catalog("64").ids == [1001, 1002, 1003, 1004, 1005]
    assert sorted((c.action, c.id) for c in changes) == [("remove", 1006), ("remove", 1007)]
    assert out.next_entry_id == 1008
    again, _ = install(out, _two_entries(f), G, ["64"])
    assert again.catalog("64").ids[-2:] == [1008, 1009]


def test_M4_deinstall_unknown_guid_or_id_is_wsaeinval() -> None:
    refused(ws.WSAEINVAL, (G, "no provider"), uninstall, classic(), provider_id=G,
            bitnesses=["64"])
    refused(ws.WSAEINVAL, ("no entry 1999",), uninstall, classic(), entry_id=1999,
            bitnesses=["64"])


@pytest.mark.parametrize("order,needle", [
    ([1001, 1002, 1003, 1004], "missing 1005"),
    ([1001, 1002, 1003, 1004, 1005, 1005], "duplicated 1005"),
    ([1001, 1002, 1003, 1004], "exactly once"),                      # wrong count
    ([1001, 1002, 1003, 1004, 1005, 1777], "unknown 1777"),
    ([1001, 1002, 1003, 1004, 1777], "missing 1005; unknown 1777"),
])
def test_M5_write_order_that_is_not_a_permutation_is_wsaeinval(order: list[int],
                                                                needle: str) -> None:
    refused(ws.WSAEINVAL, (needle, "64-bit"), reorder, classic(), order, "64")


def test_M6_reverse_order_keeps_ids_and_changes_resolution() -> None:
    f = classic()
    assert resolve(f.catalog("64"), 2, 0, 0).entry.id == 1001  # type: ignore[union-attr]
    out, changes = reorder(f, [1005, 1004, 1003, 1002, 1001], "64")
    cat = out.catalog("64")
    assert cat.ids == [1005, 1004, 1003, 1002, 1001]
    assert sorted(cat.protocols, key=lambda e: e.id) == list(f.catalog("64").protocols)
    assert resolve(cat, 2, 0, 0).entry.id == 1003            # type: ignore[union-attr]
    assert [(c.id, c.fields) for c in changes] == [
        (1005, (("position", 5, 1),)), (1004, (("position", 4, 2),)),
        (1002, (("position", 2, 4),)), (1001, (("position", 1, 5),))]


def test_M7_lsp_over_tcp_chain_first_and_hidden_entry_conventions() -> None:
    out, hid = lsp(classic(), "Foobar", G, over=(1001,), bitnesses=["64"])
    cat = out.catalog("64")
    assert hid == 1006 and out.next_entry_id == 1008
    assert cat.ids == [1007, 1001, 1002, 1003, 1004, 1005, 1006]      # chain first, hidden last
    d, c = cat.get(1006), cat.get(1007)
    assert d is not None and c is not None
    assert (d.kind, d.chain_len, d.socket_type, d.protocol, d.protocol_max_offset) == \
        ("layered", 0, 0, 0, 0)
    assert d.is_hidden and not d.provider_flags & ws.PFL_MATCHES_PROTOCOL_ZERO
    assert not d.is_ifs and d.provider_id == G and d.name == "Foobar"
    assert (c.kind, c.chain, c.triple, c.name) == \
        ("chain", (1006, 1001), (2, 1, 6), "Foobar over [MSAFD Tcpip [TCP/IP]]")
    assert c.provider_id not in (G, cat.get(1001).provider_id)  # type: ignore[union-attr]
    assert not c.is_ifs                                          # non-IFS LSP clears the flag
    assert resolve(cat, 2, 1, 0).entry == c
    wsa_enum = [e.id for e in cat.protocols if e.chain_len >= 1 and not e.is_hidden]
    assert 1007 in wsa_enum and 1006 not in wsa_enum and 1006 in cat.ids   # WSC lists both


def test_M8_deinstall_hidden_guid_only_leaves_orphaned_chain() -> None:
    f, hid = lsp(classic(), "Foobar", G, over=(1001,), bitnesses=["64"])
    out, changes = uninstall(f, provider_id=G, repair=False, bitnesses=["64"])
    cat = out.catalog("64")
    assert [(c.action, c.id) for c in changes] == [("remove", hid)]
    assert cat.ids[0] == 1007 and cat.get(1007).chain == (1006, 1001)  # type: ignore[union-attr]
    assert dangling(out) == [("64", 1007, 1006)]
    assert [(m.is_orphans, m.ids) for m in lsp_map(cat)] == [(True, (1007,))]
    # The repairing uninstall of an orphaned chain entry removes it.
    fixed, changes = uninstall(out, entry_id=1007, bitnesses=["64"])
    assert fixed.catalog("64").ids == [1001, 1002, 1003, 1004, 1005]
    assert "orphaned" in changes[0].detail


# ---------------------------------------------------------------------------------------------
# The scenario on the shipped Windows 11 catalog


def test_scenario_inspector_crypto_over_all_then_uninstall_inspector() -> None:
    f = load("windows-11")
    f, ins = lsp(f, "Inspector", G, over=(1004, 1005), categories=INSPECTOR)
    f, cry = lsp(f, "Crypto", G2, over=(1001,), categories=CRYPTO)
    assert (ins, cry) == (1015, 1018)
    f, changes = chain_insert(f, cry, all_over=ins, auto=True, bitnesses=BOTH)
    for b in BOTH:
        assert chain_of(f, 1016, b) == (ins, cry, 1004)
        assert chain_of(f, 1017, b) == (ins, cry, 1005)
    assert changes[0].fields == (("chain", [1015, 1004], [1015, 1018, 1004]),)
    assert changes[0].detail == ("rank 7 (LSP_CRYPTO_COMPRESS) is below rank 1 (LSP_INSPECTOR) "
                                 "of 1015 'Inspector'; placed at position 2")
    f, third = lsp(f, "Third", G3, over_all=True)
    for b in BOTH:
        res = resolve(f.catalog(b), 2, 1, 6)
        assert [e.name for e in res.layers] == ["Third", "Inspector", "Crypto",   # type: ignore
                                                "MSAFD Tcpip [TCP/IP]"]
        res6 = resolve(f.catalog(b), 23, 1, 6)
        assert [e.id for e in res6.layers] == [third, cry, 1001]                # type: ignore
    f, changes = uninstall(f, entry_id=ins, bitnesses=BOTH)
    assert dangling(f) == []
    for b in BOTH:
        cat = f.catalog(b)
        # instlsp RemoveProvider deinstalls every chain entry whose top layer is the LSP (its
        # LayeredGuids), Crypto inserted below it or not (issue 13: an entry keeps its top
        # layer's path and GUID, so it cannot be handed on to Crypto).
        assert ins not in cat and 1016 not in cat and 1017 not in cat
        res = resolve(cat, 2, 1, 6)
        assert [e.id for e in res.layers] == [third, cry, 1004]             # type: ignore
        assert [e.id for e in resolve(cat, 2, 2, 17).layers] == [third, cry, 1005]  # type: ignore
    f, _ = uninstall(f, provider_id=G3, bitnesses=BOTH)
    assert [e.id for e in resolve(f.catalog("64"), 2, 1, 6).layers] == [1004]  # type: ignore


# ---------------------------------------------------------------------------------------------
# install (WSCInstallProvider, §4.1)


def test_install_exist_ok_identical_is_a_noop_and_differing_is_refused() -> None:
    f = classic()
    out, _ = install(f, _two_entries(f), G, ["64"])
    same, changes = install(out, _two_entries(f), G, ["64"], exist_ok=True)
    assert same is out and changes == []
    other = [replace(e, name=e.name + " v2") for e in _two_entries(f)]
    refused(ws.WSANO_RECOVERY, (G, "exist_ok"), install, out, other, G, ["64"], exist_ok=True)


def test_install_into_both_catalogs_uses_one_counter_and_same_ids() -> None:
    f = load("windows-11")
    entry = replace(f.catalog("64").get(1012), name="Vendor UNIX")  # type: ignore[arg-type]
    out, changes = install(f, [entry], G, BOTH)
    assert out.next_entry_id == 1016
    assert [(c.catalog, c.id) for c in changes] == [("64", 1015), ("32", 1015)]
    assert out.catalog("64").get(1015) == out.catalog("32").get(1015)


def test_install_chain_entry_over_existing_components() -> None:
    f, hid = lsp(classic(), "L", G, over=(1004,), bitnesses=["64"])
    chain = replace(f.catalog("64").get(1005), kind="chain", chain=(hid, 1005),  # type: ignore
                    name="manual", path=r"%SystemRoot%\system32\L.dll")
    out, _ = install(f, [chain], G2, ["64"])
    assert chain_of(out, 1008) == (hid, 1005)
    assert [m.ids for m in lsp_map(out.catalog("64"))] == [(hid, 1007, 1008)]


def test_install_refuses_a_chain_entry_without_its_top_layers_path() -> None:
    """ws2_32 loads the chosen entry's own DLL (ReactOS WsTcLoadProvider): a chain entry must
    carry the path of the LSP whose hidden entry is its chain[0] (issue 13)."""
    f, hid = lsp(classic(), "L", G, over=(1004,), bitnesses=["64"])
    chain = replace(f.catalog("64").get(1005), kind="chain", chain=(hid, 1005),  # type: ignore
                    name="manual")
    refused(ws.WSAEINVAL, ("top layer", f"{hid} 'L'", "L.dll", "mswsock.dll"), install, f,
            [chain], G2, ["64"])


@pytest.mark.parametrize("change,code,needle", [
    (dict(name="n" * 256), ws.WSAEINVAL, "WSAPROTOCOL_LEN"),
    (dict(path="p" * 260), ws.WSAEINVAL, "MAX_PATH"),
    (dict(chain=(1001,)), ws.WSAEINVAL, "only chain entries"),
    (dict(kind="chain", chain=(1001,)), ws.WSAEINVAL, "2 to MAX_PROTOCOL_CHAIN"),
    (dict(kind="chain", chain=(1003, 1003, 1001)), ws.WSAEINVAL, "twice"),
    (dict(kind="chain", chain=(1999, 1001)), ws.WSAEINVAL, "names id 1999"),
    (dict(kind="chain", chain=(1002, 1001)), ws.WSAEINVAL, "base provider 1002"),
])
def test_install_refusals(change: dict[str, Any], code: int, needle: str) -> None:
    f = classic()
    entry = replace(f.catalog("64").get(1001), **change)  # type: ignore[arg-type]
    refused(code, (needle,), install, f, [entry], G, ["64"])


def test_install_refuses_empty_list_and_bad_guids() -> None:
    refused(ws.WSAEINVAL, ("No protocol entries",), install, classic(), [], G, ["64"])
    entry = classic().catalog("64").protocols[0]
    refused(ws.WSAEINVAL, ("not a valid provider GUID",), install, classic(), [entry],
            "{00000000-0000-0000-0000-000000000000}", ["64"])
    refused(ws.WSAEINVAL, ("'not-a-guid'",), install, classic(), [entry], "not-a-guid", ["64"])


def test_install_name_of_exactly_255_characters_is_accepted() -> None:
    f = classic()
    entry = replace(f.catalog("64").protocols[0], name="n" * 255, path="p" * 259)
    out, _ = install(f, [entry], G, ["64"])
    assert out.catalog("64").get(1006).name == "n" * 255  # type: ignore[union-attr]


def test_unknown_bitness_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no 32-bit catalog"):
        install(classic(), _two_entries(classic()), G, ["32"])


# ---------------------------------------------------------------------------------------------
# install_lsp (§4.2, instlsp InstallLsp)


def test_install_lsp_over_a_chain_gives_L_A_B_and_shared_ids_and_guids() -> None:
    f, a = lsp(load("windows-11"), "A", G, over=(1004,))
    f, changes, b_id = install_lsp(f, name="B", path="b.dll", provider_id=G2,
                                   targets=Targets(over=(1016, 1016)), bitnesses=BOTH,
                                   new_guid=guids())
    for bit in BOTH:
        assert chain_of(f, b_id + 1, bit) == (b_id, a, 1004)
        assert f.catalog(bit).ids[:2] == [b_id + 1, 1016]
        assert f.catalog(bit).ids[-1] == b_id
    assert f.catalog("64").get(b_id + 1) == f.catalog("32").get(b_id + 1)
    assert f.catalog("64").get(b_id + 1).name == \
        "B over [A over [MSAFD Tcpip [TCP/IP]]]"  # type: ignore[union-attr]
    assert [(c.catalog, c.action, c.id) for c in changes] == [
        ("64", "add", b_id), ("64", "add", b_id + 1), ("32", "add", b_id), ("32", "add", b_id + 1)]


def test_install_lsp_ifs_flags_and_the_ifs_rule() -> None:
    f, i = lsp(load("windows-11"), "I", G, over=(1004,), ifs=True)
    cat = f.catalog("64")
    assert cat.get(i).is_ifs and cat.get(1016).is_ifs       # type: ignore[union-attr]
    f, n = lsp(f, "N", G2, over=(1016,))                      # non-IFS over [I, B]
    assert chain_of(f, n + 1) == (n, i, 1004)
    assert not f.catalog("64").get(n + 1).is_ifs              # type: ignore[union-attr]
    before = f.catalog("64").get(n + 1)
    f, l_id = lsp(f, "L", G3, over=(n + 1,), ifs=True)        # IFS over [N, I, B]
    cat = f.catalog("64")
    # instlsp InstallIfsLspProtocolChains: L's own chain is the part below the non-IFS N ...
    assert chain_of(f, l_id + 1) == (l_id, i, 1004)
    assert cat.get(l_id + 1).is_ifs                           # type: ignore[union-attr]
    # ... and N's entry is updated in place to hold L's chain entry directly below N.
    assert cat.get(n + 1) == replace(before, chain=(n, l_id + 1, i, 1004))  # type: ignore
    assert cat.ids[:3] == [n + 1, l_id + 1, 1016]
    assert [e.id for e in resolve(cat, 2, 1, 6).layers] == [n, l_id + 1, i, 1004]  # type: ignore


def _n_over_tcp() -> tuple[CatalogFile, int]:
    """A non-IFS LSP N over TCP/IPv4 of windows-11: Nd = 1015, Ne = 1016 = [1015, 1004]."""
    return lsp(load("windows-11"), "N", G, over=(1004,))


def test_InstallIfsLspProtocolChains_ifs_lsp_over_a_non_ifs_chain() -> None:
    """instlsp-13.md §1's worked example: ``instlsp -h -i -o <Ne>``.  L gets its own subset
    chain [L, B] (BuildSubsetLspChain) with L's path and a fresh GUID; N's entry becomes
    [N, Le, B] in place (InsertIdIntoProtocolChain), keeping N's GUID, path, name and flags;
    the order written is [Ne, Le, rest...]."""
    f, n = _n_over_tcp()
    ne = f.catalog("64").get(1016)
    out, changes, l_id = install_lsp(f, name="L", path="l.dll", provider_id=G2,
                                     targets=Targets(over=(1016,)), ifs=True, bitnesses=BOTH,
                                     new_guid=lambda: "{C0DEC0DE-0000-0000-0000-0000000000FF}")
    le = l_id + 1
    for b in BOTH:
        cat = out.catalog(b)
        new = cat.get(le)
        assert new is not None and new.chain == (l_id, 1004) and new.path == "l.dll"
        assert new.name == "L over [N over [MSAFD Tcpip [TCP/IP]]]"   # named after the target
        assert new.is_ifs and new.provider_id not in (G, G2, ne.provider_id)  # type: ignore
        assert cat.get(1016) == replace(ne, chain=(n, le, 1004))          # type: ignore
        assert cat.ids[:2] == [1016, le]
        assert cat.get(l_id).path == "l.dll" and cat.get(l_id).is_ifs    # type: ignore
        assert [e.id for e in resolve(cat, 2, 1, 6).layers] == [n, le, 1004]  # type: ignore
    assert [(c.catalog, c.action, c.id) for c in changes] == [
        ("64", "add", l_id), ("64", "add", le), ("64", "update", 1016),
        ("32", "add", l_id), ("32", "add", le), ("32", "update", 1016)]
    update = changes[2]
    assert update.fields == (("chain", [n, 1004], [n, le, 1004]),)
    assert "InstallIfsLspProtocolChains" in update.detail and "kept" in update.detail
    # RemoveProvider / RemoveIdFromChain: removing L strips Le from N's entry again.
    back, changes = uninstall(out, entry_id=l_id, bitnesses=BOTH)
    for b in BOTH:
        assert back.catalog(b).get(1016) == ne
        assert l_id not in back.catalog(b) and le not in back.catalog(b)
    assert ("update", 1016) in [(c.action, c.id) for c in changes]


def test_InsertIfsLspIntoAllChains_updates_the_entry_a_middle_layer_stands_for() -> None:
    """instlsp-13.md §1, target Me = [M, N, B]: the lowest non-IFS layer is N (k = 1), so Me
    becomes [M, N, Le, B] and N's own entry [N, B] (what chain[1] stands for) becomes
    [N, Le, B]; the order pulls N's and L's chain entries in under Me."""
    f, n = _n_over_tcp()
    f, m = lsp(f, "M", G2, over=(1016,))                      # Me = [M, N, 1004]
    me = m + 1
    assert chain_of(f, me) == (m, n, 1004)
    out, changes, l_id = install_lsp(f, name="L", path="l.dll", provider_id=G3,
                                     targets=Targets(over=(me,)), ifs=True, bitnesses=["64"],
                                     new_guid=guids())
    le = l_id + 1
    assert chain_of(out, le) == (l_id, 1004)
    assert chain_of(out, me) == (m, n, le, 1004)
    assert chain_of(out, 1016) == (n, le, 1004)
    assert out.catalog("64").ids[:3] == [me, 1016, le]
    assert sorted(c.id for c in changes if c.action == "update") == [1016, me]
    back, _ = uninstall(out, entry_id=le, bitnesses=["64"])       # by a chain id: whole LSP
    assert chain_of(back, me) == (m, n, 1004) and chain_of(back, 1016) == (n, 1004)


def test_InstallIfsLspProtocolChains_ifs_over_all_ifs_chain_and_base_is_unchanged() -> None:
    f, i = lsp(load("windows-11"), "I", G, over=(1004,), ifs=True)
    out, changes, l_id = install_lsp(f, name="L", path="l.dll", provider_id=G2,
                                     targets=Targets(over=(1016, 1005)), ifs=True,
                                     bitnesses=["64"], new_guid=guids())
    assert chain_of(out, l_id + 1) == (l_id, i, 1004) and chain_of(out, l_id + 2) == (l_id, 1005)
    assert [c.action for c in changes] == ["add"] * 3
    assert out.catalog("64").ids[:2] == [l_id + 1, l_id + 2]


def test_install_lsp_path32_goes_into_the_32_bit_catalog() -> None:
    """WSCInstallProviderAndChains64_32's lpszProviderDllPath32 (instlsp -d32)."""
    f = load("windows-11")
    out, changes, hid = install_lsp(f, name="L", path=r"C:\x64\l.dll", provider_id=G,
                                    targets=Targets(over=(1004,)), bitnesses=BOTH,
                                    new_guid=guids(), path32=r"C:\x86\l.dll")
    for b, p in (("64", r"C:\x64\l.dll"), ("32", r"C:\x86\l.dll")):
        cat = out.catalog(b)
        assert cat.get(hid).path == p and cat.get(hid + 1).path == p   # type: ignore
    assert not [c for c in changes if "no separate 32-bit path" in c.detail]
    same, changes, _ = install_lsp(f, name="L", path="l.dll", provider_id=G,
                                   targets=Targets(over=(1004,)), bitnesses=BOTH,
                                   new_guid=guids())
    assert same.catalog("32").get(hid).path == "l.dll"                 # type: ignore
    notes = [c for c in changes if "no separate 32-bit path" in c.detail]
    assert [(c.catalog, c.id) for c in notes] == [("32", hid)]
    only64, changes, _ = install_lsp(f, name="L", path="l.dll", provider_id=G,
                                     targets=Targets(over=(1004,)), bitnesses=["64"],
                                     new_guid=guids())
    assert not [c for c in changes if "32-bit" in c.detail]
    refused(ws.WSAEINVAL, ("32-bit path", "MAX_PATH"), install_lsp, f, name="L", path="l.dll",
            provider_id=G, targets=Targets(over=(1004,)), bitnesses=BOTH, path32="p" * 300)


def test_install_path32_goes_into_the_32_bit_catalog() -> None:
    f = load("windows-11")
    entry = replace(f.catalog("64").get(1012), name="Vendor UNIX",  # type: ignore[arg-type]
                    path=r"C:\x64\v.dll")
    out, changes = install(f, [entry], G, BOTH, path32=r"C:\x86\v.dll")
    assert out.catalog("64").get(1015).path == r"C:\x64\v.dll"      # type: ignore
    assert out.catalog("32").get(1015).path == r"C:\x86\v.dll"      # type: ignore
    # exist_ok compares each catalog with its own path
    assert install(out, [entry], G, BOTH, path32=r"C:\x86\v.dll", exist_ok=True) == (out, [])
    _, changes = install(f, [entry], G, BOTH)
    assert [c.catalog for c in changes if "no separate 32-bit path" in c.detail] == ["32"]


def test_install_lsp_over_base_only_ignores_existing_lsps() -> None:
    f, a = lsp(load("windows-11"), "A", G, over=(1004,))
    out, _, hid = install_lsp(f, name="B", path="b.dll", provider_id=G2,
                              targets=Targets(over_base_only=True), bitnesses=["64"],
                              new_guid=guids())
    bases = [e.chain[-1] for e in out.catalog("64").protocols if hid in e.chain]
    # RSVP entries 1008-1011 repeat the TCP/UDP triples: the first base with a triple wins.
    assert bases == [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1012, 1013, 1014]
    assert chain_of(out, hid + 4) == (hid, 1004)


def test_install_lsp_over_all_skips_duplicate_picks_and_uses_the_resolver() -> None:
    out, hid = lsp(load("windows-7"), "All", G, over_all=True)
    chains = [e for e in out.catalog("64").protocols if hid in e.chain]
    # The Windows 7 catalog has 6 distinct triples; RSVP entries resolve to the MSAFD ones.
    assert [c.chain[-1] for c in chains] == [1001, 1002, 1003, 1004, 1005, 1006]


def test_install_lsp_refuses_a_target_with_a_chain_of_six() -> None:
    f, target = load("windows-11"), 1004
    for k in range(5):
        f, hid = lsp(f, f"L{k}", f"{{0D0D0D0D-1111-2222-3333-{k:012d}}}", over=(target,))
        target = hid + 1
    assert len(chain_of(f, target)) == 6
    refused(ws.WSANO_RECOVERY, (f"{target} ", "chain of 6", "MAX_PROTOCOL_CHAIN"),
            install_lsp, f, name="X", path="x.dll", provider_id=G, bitnesses=BOTH,
            targets=Targets(over=(target,)))


def test_install_lsp_refusals() -> None:
    f, hid = lsp(load("windows-11"), "A", G, over=(1004,))
    kw: dict[str, Any] = dict(name="X", path="x.dll", provider_id=G2, bitnesses=BOTH)
    refused(ws.WSAEINVAL, (f"{hid} 'A'", "layered"), install_lsp, f,
            targets=Targets(over=(hid,)), **kw)
    refused(ws.WSANO_RECOVERY, (G, "already installed"), install_lsp, f,
            targets=Targets(over=(1001,)), **{**kw, "provider_id": G.lower()})
    refused(ws.WSAEINVAL, ("WSAPROTOCOL_LEN",), install_lsp, f,
            targets=Targets(over=(1001,)), **{**kw, "name": "x" * 256})
    refused(ws.WSAEINVAL, ("MAX_PATH",), install_lsp, f,
            targets=Targets(over=(1001,)), **{**kw, "path": "x" * 260})
    refused(ws.WSAEINVAL, ("1999", "64-bit"), install_lsp, f,
            targets=Targets(over=(1999,)), **kw)
    # An entry present in the 64-bit catalog only.
    only64, _ = install(f, [f.catalog("64").get(1012)], G3, ["64"])  # type: ignore[list-item]
    new_id = only64.next_entry_id - 1
    assert new_id in only64.catalog("64") and new_id not in only64.catalog("32")
    refused(ws.WSAEINVAL, (f"Entry {new_id} is not in the 32-bit catalog",), install_lsp,
            only64, targets=Targets(over=(new_id,)), **kw)


def test_install_lsp_refuses_over_all_when_the_catalogs_differ() -> None:
    f, _ = move(load("windows-11"), 1009, top=True, bitness="64")   # RSVP TCP first in 64
    refused(ws.WSAEINVAL, ("different targets", "--bitness"), install_lsp, f, name="X",
            path="x.dll", provider_id=G, targets=Targets(over_all=True), bitnesses=BOTH)
    out, _, hid = install_lsp(f, name="X", path="x.dll", provider_id=G, bitnesses=["64"],
                              targets=Targets(over_all=True), new_guid=guids())
    assert resolve(out.catalog("64"), 2, 1, 6).layers[-1].id == 1009  # type: ignore[union-attr]


def test_install_lsp_refuses_an_orphaned_target() -> None:
    f, hid = lsp(classic(), "L", G, over=(1001,), bitnesses=["64"])
    orphaned, _ = uninstall(f, provider_id=G, repair=False, bitnesses=["64"])
    refused(ws.WSAEINVAL, ("orphaned", "1007"), install_lsp, orphaned, name="X", path="x.dll",
            provider_id=G2, targets=Targets(over=(1007,)), bitnesses=["64"])


def test_install_lsp_truncates_generated_chain_names() -> None:
    out, _, hid = install_lsp(classic(), name="n" * 250, path="n.dll", provider_id=G,
                              targets=Targets(over=(1001,)), bitnesses=["64"])
    name = out.catalog("64").get(hid + 1).name  # type: ignore[union-attr]
    assert len(name) == ws.WSAPROTOCOL_LEN and name.startswith("n" * 250 + " over")


@pytest.mark.parametrize("kwargs", [{}, {"over": (1,), "over_all": True},
                                    {"over_all": True, "over_base_only": True}])
def test_targets_need_exactly_one_mode(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        Targets(**kwargs)


# ---------------------------------------------------------------------------------------------
# chain_insert (WSCUpdateProvider in place, §4.5)


def _two_lsps(ifs_a: bool = False, ifs_b: bool = False, cat_b: int = CRYPTO,
              ) -> tuple[CatalogFile, int, int]:
    f, a = lsp(load("windows-11"), "A", G, over=(1004, 1005), categories=INSPECTOR, ifs=ifs_a)
    f, b = lsp(f, "B", G2, over=(1001,), categories=cat_b, ifs=ifs_b)
    return f, a, b


@pytest.mark.parametrize("where,expected", [
    ({"position": 2}, (1015, 1018, 1004)),
    ({"above": 1004}, (1015, 1018, 1004)),
    ({"below": 1015}, (1015, 1018, 1004)),
])
def test_chain_insert_explicit_positions_keep_id_guid_and_order(where: dict[str, int],
                                                                 expected: tuple[int, ...]) -> None:
    f, a, b = _two_lsps()
    out, changes = chain_insert(f, b, chains=(1016,), bitnesses=BOTH, **where)
    for bit in BOTH:
        assert chain_of(out, 1016, bit) == expected
        assert out.catalog(bit).ids == f.catalog(bit).ids
        old, new = f.catalog(bit).get(1016), out.catalog(bit).get(1016)
        assert new == replace(old, chain=expected)  # type: ignore[arg-type]
    assert [c.id for c in changes] == [1016, 1016]
    assert changes[0].detail.endswith("position 2")


@pytest.mark.parametrize("where", [{"position": 1}, {"above": 1015}])
def test_chain_insert_refuses_to_change_the_top_layer(where: dict[str, int]) -> None:
    """Issue 13 case 2: ws2_32 loads the DLL of the chosen entry's own path, i.e. its top
    layer's; WSCUpdateProvider keeps the entry's GUID and instlsp never changes an entry's top
    layer, so putting B on top of A's entry in place is refused (install-lsp --over instead)."""
    f, a, b = _two_lsps()
    err = refused(ws.WSAEINVAL, ("Position 1", "top layer", "1016", "install-lsp --over 1016"),
                  chain_insert, f, b, chains=(1016,), bitnesses=BOTH, **where)
    assert err.code == "wsaeinval"


def test_chain_insert_auto_ranking_override_and_file_ranking() -> None:
    f, a, b = _two_lsps()
    out, _ = chain_insert(f, b, chains=(1016,), auto=True,
                          ranking=("LSP_CRYPTO_COMPRESS", "LSP_INSPECTOR"), bitnesses=["64"])
    assert chain_of(out, 1016) == (a, b, 1004)      # the top layer owns the entry and stays
    ranked = replace(f, lsp_ranking=("crypto_compress", "inspector"))
    out, changes = chain_insert(ranked, b, chains=(1016,), auto=True, bitnesses=["64"])
    assert chain_of(out, 1016) == (a, b, 1004)
    assert changes[0].detail.startswith("rank 0 (LSP_CRYPTO_COMPRESS) is above rank 1 "
                                        "(LSP_INSPECTOR) of 1015 'A'")
    assert changes[0].detail.endswith("the top layer stays (it owns the entry), so directly "
                                      "below it; placed at position 2")


def test_chain_insert_auto_uncategorized_ranks_after_all() -> None:
    f, a, b = _two_lsps(cat_b=0)
    out, changes = chain_insert(f, b, chains=(1016,), auto=True, bitnesses=["64"])
    assert chain_of(out, 1016) == (a, b, 1004)
    assert changes[0].detail.startswith("rank 8 (uncategorized) is below rank 1")


def test_chain_insert_auto_ifs_rule_clamps_an_ifs_lsp_below_non_ifs() -> None:
    f, a, b = _two_lsps(ifs_a=False, ifs_b=True, cat_b=FIREWALL)     # firewall ranks first
    out, changes = chain_insert(f, b, chains=(1016,), auto=True, bitnesses=["64"])
    assert chain_of(out, 1016) == (a, b, 1004)
    assert "IFS rule" in changes[0].detail and changes[0].detail.endswith("position 2")


def test_chain_insert_auto_ifs_rule_keeps_a_non_ifs_lsp_above_ifs() -> None:
    f, a, b = _two_lsps(ifs_a=True, ifs_b=False, cat_b=CRYPTO)       # crypto ranks below
    assert f.catalog("64").get(1016).is_ifs                          # type: ignore[union-attr]
    # The IFS rule wants the non-IFS B above the IFS top layer A: that would change the top
    # layer of A's entry, which chain-insert never does (install-lsp --over instead).
    err = refused(ws.WSAEINVAL, ("top layer", "non-IFS LSP is never below an IFS one",
                                 "install-lsp --over 1016"),
                  chain_insert, f, b, chains=(1016,), auto=True, bitnesses=["64"])
    assert "auto placement" in err.message
    # Below a non-IFS top layer the non-IFS B goes above an IFS layer: flags recomputed.
    f, i = lsp(f, "I", G3, over=(1005,), ifs=True)                  # [I, 1005] = 1021
    f, n = lsp(f, "N", "{0D0D0D0D-1111-2222-3333-999999999999}", over=(1021,))  # [N, I, 1005]
    out, changes = chain_insert(f, b, chains=(n + 1,), auto=True, bitnesses=["64"])
    assert chain_of(out, n + 1) == (n, b, i, 1005)
    assert not out.catalog("64").get(n + 1).is_ifs                 # type: ignore[union-attr]


def test_chain_insert_all_over_skips_chains_that_already_hold_the_lsp() -> None:
    f, a, b = _two_lsps()
    out, changes = chain_insert(f, b, all_over=1004, position=2, bitnesses=["64"])
    assert [c.id for c in changes] == [1016]
    again = chain_insert(out, a, all_over=1001, position=2, bitnesses=["64"])[0]
    assert chain_of(again, 1019) == (b, a, 1001)
    refused(ws.WSAEINVAL, ("No chain entry", "1004"), chain_insert, out, b, all_over=1004,
            position=2, bitnesses=["64"])


def test_chain_insert_refusals() -> None:
    f, a, b = _two_lsps()
    kw: dict[str, Any] = dict(bitnesses=BOTH)
    refused(ws.WSAEINVAL, ("1004", "base entry", "layered"), chain_insert, f, 1004,
            chains=(1016,), position=2, **kw)
    refused(ws.WSAEINVAL, ("1001", "not a chain entry"), chain_insert, f, b, chains=(1001,),
            position=2, **kw)
    for bad in (0, 3):
        refused(ws.WSAEINVAL, (f"Position {bad}", "2..2", "1016"), chain_insert, f, b,
                chains=(1016,), position=bad, **kw)
    refused(ws.WSAEINVAL, ("Layer 1004", "base provider"), chain_insert, f, b,
            chains=(1016,), below=1004, **kw)
    refused(ws.WSAEINVAL, ("Layer 1001", "not in"), chain_insert, f, b, chains=(1016,),
            above=1001, **kw)
    refused(ws.WSAEINVAL, ("already contains layer 1015", "twice"), chain_insert, f, a,
            chains=(1016,), position=2, **kw)
    with pytest.raises(UsageError):
        chain_insert(f, b, chains=(1016,), position=0, auto=True, **kw)
    with pytest.raises(UsageError):
        chain_insert(f, b, **kw)


def test_chain_insert_refuses_a_chain_longer_than_seven() -> None:
    f = load("windows-11")
    hids = []
    for k in range(6):
        f, hid = lsp(f, f"L{k}", f"{{0D0D0D0D-1111-2222-3333-{k:012d}}}", over=(1001,))
        hids.append(hid)
    f, last = lsp(f, "Last", G, over=(1004,))
    for hid in hids[:5]:
        f, _ = chain_insert(f, hid, chains=(last + 1,), position=2, bitnesses=BOTH)
    assert len(chain_of(f, last + 1)) == 7
    refused(ws.WSANO_RECOVERY, ("7 ids", "MAX_PROTOCOL_CHAIN"), chain_insert, f, hids[5],
            chains=(last + 1,), position=2, bitnesses=BOTH)


# ---------------------------------------------------------------------------------------------
# reorder / move (WSCWriteProviderOrder, §4.4)


@pytest.mark.parametrize("kwargs,order", [
    ({"top": True}, [1003, 1001, 1002, 1004, 1005]),
    ({"bottom": True}, [1001, 1002, 1004, 1005, 1003]),
    ({"before": 1002}, [1001, 1003, 1002, 1004, 1005]),
    ({"after": 1004}, [1001, 1002, 1004, 1003, 1005]),
    ({"position": 5}, [1001, 1002, 1004, 1005, 1003]),
    ({"position": 1}, [1003, 1001, 1002, 1004, 1005]),
])
def test_move_computes_the_permutation(kwargs: dict[str, Any], order: list[int]) -> None:
    out, changes = move(classic(), 1003, bitness="64", **kwargs)
    assert out.catalog("64").ids == order
    # move reports only the entry it moved; the others' shift shows in the catalog order
    assert [c.id for c in changes] == [1003]
    assert changes[0].fields == (("position", 3, order.index(1003) + 1),)
    assert all(c.action == "move" for c in changes)


def test_noop_move_and_reorder_return_no_changes() -> None:
    f = classic()
    assert move(f, 1003, position=3, bitness="64") == (f, [])
    assert reorder(f, [1001, 1002, 1003, 1004, 1005], "64") == (f, [])


def test_move_refusals() -> None:
    f = classic()
    refused(ws.WSAEINVAL, ("Entry 1999",), move, f, 1999, top=True, bitness="64")
    refused(ws.WSAEINVAL, ("Position 6", "1..5"), move, f, 1003, position=6, bitness="64")
    refused(ws.WSAEINVAL, ("Position 0",), move, f, 1003, position=0, bitness="64")
    refused(ws.WSAEINVAL, ("Entry 1003 is the entry being moved",), move, f, 1003,
            before=1003, bitness="64")
    refused(ws.WSAEINVAL, ("Entry 1999 is not in",), move, f, 1003, after=1999, bitness="64")
    with pytest.raises(UsageError):
        move(f, 1003, top=True, bottom=True, bitness="64")


# ---------------------------------------------------------------------------------------------
# uninstall (WSCDeinstallProvider §4.3 + instlsp's repair, anchor-tools §2.4)


def test_uninstall_by_chain_id_or_chain_guid_removes_the_whole_lsp() -> None:
    f, a, b = _two_lsps()
    chain_guid = f.catalog("64").get(1017).provider_id   # type: ignore[union-attr]
    for kwargs in ({"entry_id": 1017}, {"provider_id": chain_guid}, {"entry_id": a}):
        out, changes = uninstall(f, bitnesses=BOTH, **kwargs)
        for bit in BOTH:
            assert {a, 1016, 1017}.isdisjoint(out.catalog(bit).ids)
            assert out.catalog(bit).ids == [1019] + list(range(1001, 1015)) + [b]
        assert out.next_entry_id == f.next_entry_id
        assert sorted(c.id for c in changes if c.catalog == "64") == [1015, 1016, 1017]


def test_uninstall_strips_ids_from_dependants_and_drops_base_only_chains() -> None:
    f, a, b = _two_lsps()
    f, c = lsp(f, "C", G3, over=(1016, 1019))               # [C, A, 1004], [C, B, 1001]
    assert [m.dependants for m in lsp_map(f.catalog("64"))] == [(c,), (c,), ()]
    out, changes = uninstall(f, entry_id=b, bitnesses=["64"])
    assert chain_of(out, c + 2) == (c, 1001)                 # stripped of B, id kept
    assert out.catalog("64").ids[:2] == f.catalog("64").ids[:2]
    assert ("update", c + 2) in [(ch.action, ch.id) for ch in changes]
    assert dangling(out) == [] and out.catalog("32") == f.catalog("32")


def test_uninstall_instlsp_form_chain_is_read_and_repaired() -> None:
    f, a = lsp(load("windows-11"), "A", G, over=(1004,), categories=INSPECTOR)
    f, b = lsp(f, "B", G2, over=(1001,), categories=FIREWALL, bitnesses=["64"])
    # instlsp writes [B, <A's chain entry 1016>, 1004] when layering B over A's chain entry.
    entry = replace(f.catalog("64").get(1016), kind="chain", chain=(b, 1016, 1004),  # type: ignore
                    name="B over [A over [MSAFD Tcpip [TCP/IP]]]",
                    path=f.catalog("64").get(b).path)                # type: ignore[union-attr]
    f, _ = install(f, [entry], G3, ["64"])
    new_id = f.next_entry_id - 1
    m = {x.id: x for x in lsp_map(f.catalog("64"))}
    assert m[a].dependants == (b,) and new_id in m[b].ids
    f2, c = lsp(f, "C", "{0D0D0D0D-1111-2222-3333-777777777777}", over=(1012,),
                categories=ws.LSP_CATEGORIES["LSP_PROXY"], bitnesses=["64"])
    out, changes = chain_insert(f2, c, chains=(new_id,), auto=True, bitnesses=["64"])
    assert chain_of(out, new_id) == (b, 1016, c, 1004)
    assert changes[0].detail == ("rank 2 (LSP_PROXY) is below rank 1 (LSP_INSPECTOR) of 1016 "
                                 "'A'; placed at position 3")        # 1016 stands for LSP A
    out, _ = uninstall(f, entry_id=a, bitnesses=["64"])
    assert chain_of(out, new_id) == (b, 1004) and dangling(out) == []


def test_BuildLspMap_RemoveProvider_orphans_are_removed_as_one_group() -> None:
    """instlsp's BuildLspMap puts every orphaned chain entry (CountOrphanedChainEntries: chain[0]
    names no entry) into ONE group, and RemoveProvider of any of them removes them all (issue 13
    case 3) -- here the orphans of two different missing hidden entries, in one catalog."""
    f, a, b = _two_lsps()                         # A: 1016, 1017 over 1004, 1005; B: 1019
    raw, _ = uninstall(f, entry_id=a, repair=False, bitnesses=["64"])
    raw, _ = uninstall(raw, entry_id=b, repair=False, bitnesses=["64"])
    assert [m.ids for m in lsp_map(raw.catalog("64")) if m.is_orphans] == [(1019, 1016, 1017)]
    out, changes = uninstall(raw, entry_id=1017, bitnesses=BOTH)
    assert sorted((c.catalog, c.action, c.id) for c in changes) == [
        ("32", "remove", a), ("32", "remove", 1016), ("32", "remove", 1017),
        ("64", "remove", 1016), ("64", "remove", 1017), ("64", "remove", 1019)]
    assert all("one group" in c.detail for c in changes if c.catalog == "64")
    assert out.catalog("64").ids == list(range(1001, 1015))
    assert dangling(out) == [] and b in out.catalog("32")       # 32-bit: only LSP A went


def test_uninstall_base_with_dependants_is_refused_unless_cascade() -> None:
    f, a, b = _two_lsps()
    refused(ws.WSANO_RECOVERY, ("1004", "1016", "cascade"), uninstall, f, entry_id=1004,
            bitnesses=BOTH)
    out, changes = uninstall(f, entry_id=1004, cascade=True, bitnesses=BOTH)
    for bit in BOTH:
        cat = out.catalog(bit)
        assert 1004 not in cat and 1016 not in cat and 1017 in cat and a in cat
    assert dangling(out) == []
    # The whole TCP/IPv4 provider GUID: UDP's chain 1017 depends on it too.
    refused(ws.WSANO_RECOVERY, ("1004, 1005, 1006", "1016, 1017"), uninstall, f,
            provider_id=f.catalog("64").get(1004).provider_id, bitnesses=BOTH)  # type: ignore


def test_uninstall_base_without_dependants_and_per_catalog_handling() -> None:
    f = load("windows-11")
    out, changes = uninstall(f, entry_id=1012, bitnesses=BOTH)
    assert 1012 not in out.catalog("64") and 1012 not in out.catalog("32")
    only64, _ = install(f, [f.catalog("64").get(1012)], G, ["64"])   # type: ignore[list-item]
    out, changes = uninstall(only64, entry_id=1015, bitnesses=BOTH)
    assert [(c.catalog, c.id) for c in changes] == [("64", 1015)]
    assert out.catalog("32") == f.catalog("32") and out.next_entry_id == 1016


def test_uninstall_raw_by_entry_id_removes_that_guid_and_leaves_orphans() -> None:
    f, a, b = _two_lsps()
    out, changes = uninstall(f, entry_id=1005, repair=False, bitnesses=["64"])
    assert sorted(c.id for c in changes) == [1004, 1005, 1006]
    assert sorted(dangling(out)) == [("64", 1016, 1004), ("64", 1017, 1005)]


def test_uninstall_usage_errors() -> None:
    with pytest.raises(UsageError):
        uninstall(classic(), bitnesses=["64"])
    with pytest.raises(UsageError):
        uninstall(classic(), entry_id=1001, provider_id=G, bitnesses=["64"])


# ---------------------------------------------------------------------------------------------
# Properties: any sequence of operations keeps the catalog well formed


def _check(f: CatalogFile) -> None:
    for cat in f.catalogs.values():
        ids = cat.ids
        assert len(ids) == len(set(ids)) and all(i < f.next_entry_id for i in ids)
        for e in cat.protocols:
            if e.kind != "chain":
                assert e.chain == ()
                continue
            assert 2 <= len(e.chain) <= ws.MAX_PROTOCOL_CHAIN and len(set(e.chain)) == len(e.chain)
            assert all(i in cat for i in e.chain), (e.id, e.chain)
            assert cat.get(e.chain[-1]).kind == "base"              # type: ignore[union-attr]
            assert all(cat.get(i).kind != "base" for i in e.chain[:-1])  # type: ignore
            top = cat.get(e.chain[0])       # issue 13: a chain carries its top layer's path
            assert top is None or top.kind != "layered" or top.path == e.path, (e.id, e.path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_property_operation_sequences_keep_the_catalog_well_formed(data: st.DataObject) -> None:
    f = load(data.draw(st.sampled_from(["windows-11", "windows-7"])))
    gen = guids()
    for step in range(data.draw(st.integers(1, 8))):
        cat = f.catalog("64")
        ids = cat.ids
        pick = lambda kinds, cat=cat, ids=ids: data.draw(st.sampled_from(  # noqa: E731
            [e.id for e in cat.protocols if e.kind in kinds] or [ids[0]]))
        op = data.draw(st.sampled_from(["install", "lsp", "lsp_all", "insert", "reorder",
                                        "move", "uninstall"]))
        bits = data.draw(st.sampled_from([BOTH, ["64"]]))
        pairs = [(h.id, c) for h in cat.protocols if h.kind == "layered"
                 for c in cat.protocols if c.kind == "chain" and h.id not in c.chain]
        if op == "insert" and not pairs:
            op = "lsp"
        before = copy.deepcopy(f)
        try:
            if op == "install":
                src = cat.get(pick({"base"}))
                f, _ = install(f, [replace(src, name="copy")], gen(), bits)  # type: ignore
            elif op in ("lsp", "lsp_all"):
                targets = Targets(over_all=True) if op == "lsp_all" else \
                    Targets(over=tuple(data.draw(st.lists(st.sampled_from(ids), min_size=1,
                                                          max_size=3))))
                f, _, _ = install_lsp(f, name=f"L{step}", path="l.dll", provider_id=gen(),
                                      targets=targets, ifs=data.draw(st.booleans()),
                                      categories=data.draw(st.sampled_from([0, 1, 8, 64])),
                                      bitnesses=bits, new_guid=gen)
            elif op == "insert":
                layer, into = data.draw(st.sampled_from(pairs))
                where = data.draw(st.sampled_from([{"auto": True}, {"position": 2},
                                                   {"above": (into.chain or ids)[-1]},
                                                   {"below": (into.chain or ids)[0]}]))
                f, _ = chain_insert(f, layer, chains=(into.id,), bitnesses=bits, **where)
            elif op == "reorder":
                perm = data.draw(st.permutations(ids))
                f, _ = reorder(f, perm, "64")
                assert set(f.catalog("64").protocols) == set(cat.protocols)
            elif op == "move":
                f, _ = move(f, pick({"base", "layered", "chain"}), position=data.draw(
                    st.integers(1, len(ids))), bitness="64")
                assert set(f.catalog("64").protocols) == set(cat.protocols)
            else:
                f, _ = uninstall(f, entry_id=pick({"base", "layered", "chain"}),
                                 cascade=data.draw(st.booleans()), bitnesses=bits)
        except WinsockError:
            assert f == before
        _check(f)
        assert f.next_entry_id >= before.next_entry_id
    # The result is a valid catalog file with no orphan warnings.
    assert catalog_toml.loads(catalog_toml.dumps(f), "result") == (f, [])
