"""Tests for sporder_py.integrity: doctor checks and repairs, on catalogs built from the shipped
ones (winsock-semantics §1.2, §4.3, §4.10 M8; anchor-tools §2.2, §2.5, §4)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from sporder_py import winsock as ws
from sporder_py.errors import UsageError
from sporder_py.formats import catalog_toml
from sporder_py.integrity import CODES, REPAIRABLE, Finding, check, fix, windows_path_under_root
from sporder_py.model import Catalog, CatalogFile, NamespaceEntry, ProtocolEntry
from sporder_py.resolver import resolve

CATALOGS = Path(__file__).resolve().parent.parent / "catalogs"
LSP_DLL = r"%SystemRoot%\system32\testlsp.dll"
TCP, UDP = 1004, 1005          # windows-11.toml: MSAFD Tcpip [TCP/IP], [UDP/IP]


def _load(name: str = "windows-11") -> CatalogFile:
    f, warnings = catalog_toml.loads((CATALOGS / f"{name}.toml").read_text(), name)
    assert warnings == []
    return f


WIN11 = _load()


def _guid(n: int) -> str:
    return f"{{{n:08X}-0000-4000-8000-00000000ABCD}}"


def hidden(entry_id: int, *, over: int = TCP, ifs: bool = False, flags_hidden: bool = True,
           name: str = "Test LSP") -> ProtocolEntry:
    """An LSP's hidden entry, lspadd.cpp CreateDummyEntry style (winsock-semantics §1.2)."""
    base = WIN11.catalog("64").get(over)
    assert base is not None
    flags = base.provider_flags & ~ws.PFL_MATCHES_PROTOCOL_ZERO
    return base.with_changes(
        id=entry_id, kind="layered", name=name, provider_id=_guid(entry_id), path=LSP_DLL,
        socket_type=0, protocol=0,
        provider_flags=flags | ws.PFL_HIDDEN if flags_hidden else flags,
        service_flags=base.service_flags if ifs else base.service_flags & ~ws.XP1_IFS_HANDLES)


def chain(entry_id: int, ids: tuple[int, ...], *, over: int = TCP, ifs: bool = False,
          **changes: object) -> ProtocolEntry:
    """A chain entry copied from the entry layered over (lspadd.cpp convention, §1.2)."""
    base = WIN11.catalog("64").get(over)
    assert base is not None
    e = base.with_changes(
        id=entry_id, kind="chain", chain=ids, name=f"Test LSP over [{base.name}]",
        provider_id=_guid(entry_id), path=LSP_DLL,
        service_flags=base.service_flags if ifs else base.service_flags & ~ws.XP1_IFS_HANDLES)
    return e.with_changes(**changes) if changes else e


def build(top: list[ProtocolEntry] = (), bottom: list[ProtocolEntry] = (), *,
          drop: tuple[int, ...] = (), namespaces: list[NamespaceEntry] | None = None,
          f: CatalogFile = WIN11) -> CatalogFile:
    """The 64-bit catalog of ``f`` with ``top`` entries first and ``bottom`` ones last."""
    cat = f.catalog("64")
    middle = [e for e in cat.protocols if e.id not in drop]
    new = Catalog("64", tuple([*top, *middle, *bottom]),
                  cat.namespaces if namespaces is None else tuple(namespaces))
    ids = [e.id for e in new.protocols]
    return dataclasses.replace(f.with_catalog(new), next_entry_id=max([f.next_entry_id, *ids]) + 1)


def codes(findings: list[Finding]) -> list[str]:
    return [x.code for x in findings]


def assert_idempotent(f: CatalogFile) -> CatalogFile:
    """check(fix(f)) has no repairable error; fix of the result changes nothing."""
    g, _ = fix(f)
    left = check(g)
    assert not [x for x in left if x.severity == "error" and x.code in REPAIRABLE], left
    again, changes = fix(g)
    assert again is g and changes == []
    return g


# --- shipped catalogs -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(p.stem for p in CATALOGS.glob("*.toml")))
def test_every_shipped_catalog_is_clean(name: str) -> None:
    f = _load(name)
    assert check(f) == []
    for b in f.bitnesses:
        assert check(f, bitnesses=[b]) == []
    g, changes = fix(f)
    assert g is f and changes == []


def test_bad_bitness_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not 64 or 32"):
        check(WIN11, bitnesses=["16"])
    only64 = CatalogFile({"64": WIN11.catalog("64")}, next_entry_id=1015)
    with pytest.raises(UsageError, match="no 32-bit catalog"):
        check(only64, bitnesses=["32"])


# --- one minimal catalog per code -----------------------------------------------------------

def test_orphaned_chain_instlsp_definition() -> None:
    # §2.5: a chain whose ChainEntries[0] matches no entry; placed last so it shadows nothing.
    f = build(bottom=[chain(1016, (1015, TCP))])
    found = check(f)
    assert codes(found) == ["orphaned-chain"]
    x = found[0]
    assert (x.severity, x.catalog, x.position, x.id) == ("error", "64", 15, 1016)
    assert "1015" in x.message and x.message.endswith(".")
    assert x.repair == "remove chain entry 1016"
    g, changes = fix(f)
    assert g.catalog("64").protocols == WIN11.catalog("64").protocols
    assert [(c.action, c.id) for c in changes] == [("remove", 1016)]
    assert "orphaned" in changes[0].detail
    assert_idempotent(f)


def test_dangling_chain_id_stripped_when_layer_and_base_remain() -> None:
    f = build(bottom=[hidden(1015), chain(1017, (1015, 1016, TCP))])
    found = check(f)
    assert codes(found) == ["dangling-chain-id"]
    assert "[1015, 1004]" in found[0].repair
    g, changes = fix(f)
    assert g.catalog("64").get(1017).chain == (1015, TCP)
    assert g.catalog("64").position(1017) == 16                     # id and position kept
    (c,) = changes
    assert (c.action, c.id, c.fields) == ("update", 1017, (("chain", [1015, 1016, TCP],
                                                             [1015, TCP]),))
    assert "1016" in c.detail
    assert_idempotent(f)


def test_dangling_chain_removed_when_no_base_would_remain() -> None:
    f = build(bottom=[hidden(1015), chain(1017, (1015, 1016))])     # the base itself is gone
    assert codes(check(f)) == ["dangling-chain-id"]
    g, changes = fix(f)
    assert [(c.action, c.id) for c in changes] == [("remove", 1017)]
    assert codes(check(g)) == ["unused-layered"]                  # warned, never removed
    assert_idempotent(f)


def test_chain_not_ending_in_base() -> None:
    f = build(bottom=[hidden(1015), hidden(1016), chain(1017, (1015, 1016))])
    found = check(f)
    assert codes(found) == ["chain-not-ending-in-base"]
    assert "layered" in found[0].message
    g, changes = fix(f)
    assert [(c.action, c.id) for c in changes] == [("remove", 1017)]
    assert_idempotent(f)


@pytest.mark.parametrize("ids", [(TCP,), (1015, 1016, 1017, 1018, 1019, 1020, 1021, TCP)])
def test_chain_length_outside_2_to_7(ids: tuple[int, ...]) -> None:
    # §1.2 MAX_PROTOCOL_CHAIN = 7; only an import can produce these, checked anyway.
    layers = [hidden(i) for i in ids[:-1]]
    f = build(bottom=[*layers, chain(1030, ids)])
    found = check(f)
    assert codes(found) == ["chain-length"]
    assert found[0].repair == ""
    g, changes = fix(f)
    assert g is f and changes == []


def test_chain_triple_mismatch_is_a_warning() -> None:
    f = build(top=[chain(1016, (1015, TCP), socket_type=2, protocol=17)], bottom=[hidden(1015)])
    found = check(f)
    assert codes(found) == ["chain-triple-mismatch"]
    assert found[0].severity == "warning" and found[0].repair == ""
    assert fix(f) == (f, [])


def test_duplicate_id_reported_not_repaired() -> None:
    dup = WIN11.catalog("64").get(TCP)
    f = build(bottom=[dup])
    found = check(f)
    assert codes(found) == ["duplicate-id"]
    assert (found[0].position, found[0].id) == (15, TCP)
    assert "entry #4" in found[0].message
    assert fix(f) == (f, [])


def test_layered_not_hidden_gets_pfl_hidden() -> None:
    f = build(top=[chain(1016, (1015, TCP))], bottom=[hidden(1015, flags_hidden=False)])
    found = check(f)
    assert codes(found) == ["layered-not-hidden"] and found[0].severity == "warning"
    g, changes = fix(f)
    assert g.catalog("64").get(1015).is_hidden
    (c,) = changes
    assert c.action == "update" and c.fields[0][0] == "provider_flags"
    assert c.fields[0][2] == c.fields[0][1] | ws.PFL_HIDDEN
    assert g.catalog("64").get(1016) == f.catalog("64").get(1016)   # healthy entry untouched
    assert check(g) == []


def test_unused_layered_is_only_warned() -> None:
    # Documented choice: an LSP may be installed before its chains; fix leaves it.
    f = build(bottom=[hidden(1015)])
    found = check(f)
    assert codes(found) == ["unused-layered"] and found[0].severity == "warning"
    assert fix(f) == (f, [])


def test_ifs_above_non_ifs_reordered() -> None:
    # instlsp IFS rule (anchor-tools §2.2): an IFS LSP sits below every non-IFS LSP.
    ifs, non_ifs = hidden(1015, ifs=True, name="IFS LSP"), hidden(1016, name="Plain LSP")
    f = build(top=[chain(1017, (1015, 1016, TCP))], bottom=[ifs, non_ifs])
    found = check(f)
    assert codes(found) == ["ifs-above-non-ifs"] and found[0].severity == "error"
    assert "[1016, 1015, 1004]" in found[0].repair
    g, changes = fix(f)
    assert g.catalog("64").get(1017).chain == (1016, 1015, TCP)
    assert [(c.action, c.id) for c in changes] == [("update", 1017)]
    assert check(g) == []


def test_ifs_below_non_ifs_is_fine() -> None:
    ifs, non_ifs = hidden(1015, ifs=True), hidden(1016)
    assert check(build(top=[chain(1017, (1016, 1015, TCP))], bottom=[ifs, non_ifs])) == []


def test_lsp_fight() -> None:
    f = build(top=[chain(1017, (1015, 1016, TCP)), chain(1018, (1016, 1015, TCP))],
              bottom=[hidden(1015, name="LSP A"), hidden(1016, name="LSP B")])
    found = check(f)
    assert codes(found) == ["lsp-fight", "lsp-shadowed"]      # 1017 answers all 1018 could
    x = found[0]
    assert (x.severity, x.position, x.id, x.repair) == ("warning", 1, 1017, "")
    assert "LSP A" in x.message and "LSP B" in x.message
    assert fix(f) == (f, [])


def test_lsp_fight_needs_the_same_triple() -> None:
    f = build(top=[chain(1017, (1015, 1016, TCP)),
                   chain(1018, (1016, 1015, UDP), over=UDP)],
              bottom=[hidden(1015), hidden(1016)])
    assert check(f) == []


def test_namespace_duplicate_keeps_the_first() -> None:
    nss = list(WIN11.catalog("64").namespaces)
    f = build(namespaces=[*nss, dataclasses.replace(nss[1], name="Tcpip copy")])
    found = check(f)
    assert codes(found) == ["namespace-duplicate"]
    assert (found[0].position, found[0].id) == (6, None)
    g, changes = fix(f)
    assert g.catalog("64").namespaces == WIN11.catalog("64").namespaces
    assert [(c.action, c.name) for c in changes] == [("namespace-remove", "Tcpip copy")]
    assert_idempotent(f)


def test_broken_base_shadowed_comes_with_the_dangling_id() -> None:
    # A chain at the top naming a missing id wins socket() but cannot load (§4.3).
    f = build(top=[chain(1017, (1015, 1016, TCP))], bottom=[hidden(1015)])
    found = check(f)
    assert sorted(codes(found)) == ["broken-base-shadowed", "dangling-chain-id"]
    shadow = next(x for x in found if x.code == "broken-base-shadowed")
    assert (shadow.position, shadow.id) == (1, 1017)
    assert "(AF_INET, SOCK_STREAM, IPPROTO_TCP)" in shadow.message
    assert "MSAFD Tcpip [TCP/IP]" in shadow.message
    assert "strip" in shadow.repair


# --- instlsp form is healthy ----------------------------------------------------------------

def test_instlsp_form_chain_is_not_reported() -> None:
    # anchor-tools §2.2 step 3: layering B over A's chain entry 1016 gives [B, 1016, base].
    f = build(top=[chain(1018, (1017, 1016, TCP)), chain(1016, (1015, TCP))],
              bottom=[hidden(1015, name="LSP A"), hidden(1017, name="LSP B")])
    assert check(f) == []
    assert fix(f) == (f, [])


# --- the uninstall that breaks the internet (winsock-semantics §4.10 M8) --------------------

def _lsp_installed() -> CatalogFile:
    """Hidden 1015 plus chains over TCP and UDP moved to the top, in both catalogs."""
    f = WIN11
    for b in f.bitnesses:
        cat = f.catalog(b)
        top = (chain(1016, (1015, TCP)), chain(1017, (1015, UDP), over=UDP))
        f = f.with_catalog(cat.with_protocols((*top, *cat.protocols, hidden(1015))))
    return dataclasses.replace(f, next_entry_id=1018)


def test_installed_lsp_is_healthy() -> None:
    f = _lsp_installed()
    assert check(f) == []
    assert resolve(f.catalog("64"), 2, 1, 6).entry.id == 1016


def test_removing_the_hidden_entry_breaks_and_fix_repairs() -> None:
    installed = _lsp_installed()
    f = installed
    for b in f.bitnesses:
        cat = f.catalog(b)
        f = f.with_catalog(cat.with_protocols([e for e in cat.protocols if e.id != 1015]))
    assert resolve(f.catalog("64"), 2, 1, 6).entry.id == 1016        # the broken chain wins
    found = check(f)
    assert {x.code for x in found} == {"orphaned-chain", "broken-base-shadowed"}
    assert [(x.catalog, x.code, x.id) for x in found if x.code == "broken-base-shadowed"] == [
        ("64", "broken-base-shadowed", 1016), ("64", "broken-base-shadowed", 1017),
        ("32", "broken-base-shadowed", 1016), ("32", "broken-base-shadowed", 1017)]
    g, changes = fix(f)
    assert [(c.catalog, c.action, c.id) for c in changes] == [
        ("64", "remove", 1016), ("64", "remove", 1017),
        ("32", "remove", 1016), ("32", "remove", 1017)]
    assert all("1015" in c.detail for c in changes)
    for b in g.bitnesses:
        assert resolve(g.catalog(b), 2, 1, 6).entry.id == TCP
        assert resolve(g.catalog(b), 2, 2, 17).entry.id == UDP
        assert g.catalog(b) == WIN11.catalog(b)
    assert check(g) == []
    assert_idempotent(f)
    # Selecting only the shadowing findings applies the same structural repair.
    assert fix(f, [x for x in found if x.code == "broken-base-shadowed"])[0] == g


def test_fix_cascades_to_chains_naming_a_removed_entry() -> None:
    # B is layered over the orphaned chain 1016 (instlsp form); removing 1016 leaves B's chain
    # dangling, so fix strips 1016 from it too and says why.
    f = build(top=[chain(1018, (1017, 1016, TCP)), chain(1016, (1015, TCP))],
              bottom=[hidden(1017, name="LSP B")])
    assert {x.code for x in check(f)} == {"orphaned-chain"}
    g, changes = fix(f)
    assert [(c.action, c.id) for c in changes] == [("update", 1018), ("remove", 1016)]
    assert g.catalog("64").get(1018).chain == (1017, TCP)
    assert "removed by this repair" in changes[0].detail
    assert resolve(g.catalog("64"), 2, 1, 6).entry.id == 1018
    assert check(g) == []


def test_fix_applies_only_the_selected_findings() -> None:
    f = build(top=[chain(1016, (1015, TCP))],
              bottom=[hidden(1015, flags_hidden=False), chain(1018, (1017, UDP), over=UDP)])
    found = check(f)
    assert sorted(codes(found)) == ["layered-not-hidden", "orphaned-chain"]
    g, changes = fix(f, [x for x in found if x.code == "layered-not-hidden"])
    assert [(c.action, c.id) for c in changes] == [("update", 1015)]
    assert codes(check(g)) == ["orphaned-chain"]
    stale = Finding("error", "orphaned-chain", "64", 3, 1099, "stale.", "")
    assert fix(g, [stale]) == (g, [])


def test_finding_to_json_and_code_list() -> None:
    x = check(build(bottom=[hidden(1015)]))[0]
    assert x.to_json() == {"severity": "warning", "code": "unused-layered", "catalog": "64",
                           "position": 15, "id": 1015, "message": x.message, "repair": ""}
    assert REPAIRABLE < set(CODES) and len(CODES) == 15


# --- missing DLLs under a root --------------------------------------------------------------

def test_windows_path_under_root_mapping() -> None:
    r = "/r"
    j = os.path.join
    p = r"%SystemRoot%\system32\mswsock.dll"
    assert windows_path_under_root(p, r, "64") == j(r, "Windows", "System32", "mswsock.dll")
    assert windows_path_under_root(p, r, "32") == j(r, "Windows", "SysWOW64", "mswsock.dll")
    assert windows_path_under_root(r"%WINDIR%\System32\x.dll", r, "64") == \
        j(r, "Windows", "System32", "x.dll")
    assert windows_path_under_root(r"%programfiles%\Acme\lsp.dll", r, "32") == \
        j(r, "Program Files (x86)", "Acme", "lsp.dll")
    assert windows_path_under_root(r"%ProgramFiles%\Acme\lsp.dll", r, "64") == \
        j(r, "Program Files", "Acme", "lsp.dll")
    assert windows_path_under_root(r"C:\Tools\..\..\lsp.dll", r, "64") == j(r, "lsp.dll")
    assert windows_path_under_root("lsp.dll", r, "32") == j(r, "Windows", "SysWOW64", "lsp.dll")
    assert windows_path_under_root(r"%NOPE%\a.dll", r, "64") == \
        j(r, "Windows", "System32", "%NOPE%", "a.dll")
    with pytest.raises(UsageError):
        windows_path_under_root(p, r, "16")


def test_missing_dll_with_a_real_tree(tmp_path: Path) -> None:
    root = str(tmp_path)
    for sub in ("System32", "SysWOW64"):
        d = tmp_path / "Windows" / sub
        d.mkdir(parents=True)
        for dll in ("mswsock.dll", "napinsp.dll", "winrnr.dll", "NLAapi.dll", "wshbth.dll",
                    "testlsp.dll"):
            (d / dll).write_bytes(b"MZ")
    calls: list[tuple[str, str]] = []

    def exists(path: str, bitness: str) -> bool:
        calls.append((path, bitness))
        return os.path.exists(windows_path_under_root(path, root, bitness))

    f = _lsp_installed()
    assert check(f, dll_exists=exists) == []
    assert len(calls) == len(set(calls))                   # each path asked once per catalog
    (tmp_path / "Windows" / "SysWOW64" / "testlsp.dll").unlink()
    (tmp_path / "Windows" / "System32" / "winrnr.dll").unlink()
    found = check(f, dll_exists=exists)
    assert [(x.code, x.catalog, x.position, x.id) for x in found] == [
        ("missing-dll", "64", 3, None),                    # NTDS namespace, System32 only
        ("missing-dll", "32", 1, 1016)]                    # the LSP DLL, via SysWOW64
    assert "winrnr.dll" in found[0].message and "NTDS" in found[0].message
    assert "3 entries use it" in found[1].message
    assert all(x.repair == "" and x.severity == "error" for x in found)
    assert fix(f, found) == (f, [])
    assert check(f) == []                                  # no dll_exists: no DLL findings


# --- issue 13: chain paths, LSPs no socket() call reaches, the two catalogs -----------------

def test_chain_path_mismatch_is_an_error_and_fix_sets_the_path() -> None:
    """ws2_32 loads the chosen entry's own DLL (ReactOS WsTcLoadProvider): a chain entry with
    another path than its top layer's hidden entry would run another DLL than it names."""
    f = build(top=[chain(1016, (1015, TCP), path=r"C:\other\displaced.dll")],
              bottom=[hidden(1015)])
    found = check(f)
    assert codes(found) == ["chain-path-mismatch"]
    x = found[0]
    assert (x.severity, x.position, x.id) == ("error", 1, 1016)
    assert "displaced.dll" in x.message and "testlsp.dll" in x.message
    assert x.repair == f"set the entry's path to '{LSP_DLL}'"   # as Windows writes it
    g, changes = fix(f)
    assert g.catalog("64").get(1016).path == LSP_DLL
    (c,) = changes
    assert (c.action, c.id, c.fields) == ("update", 1016, (("path", r"C:\other\displaced.dll",
                                                            LSP_DLL),))
    assert check(g) == []
    # Case differs only: the same DLL for Windows, no finding.
    same = build(top=[chain(1016, (1015, TCP), path=LSP_DLL.upper())], bottom=[hidden(1015)])
    assert check(same) == []


def test_ifs_repair_that_changes_the_top_layer_also_sets_the_path() -> None:
    ifs = hidden(1015, ifs=True, name="IFS LSP").with_changes(path=r"C:\ifs.dll")
    non_ifs = hidden(1016, name="Plain LSP").with_changes(path=r"C:\plain.dll")
    f = build(top=[chain(1017, (1015, 1016, TCP), path=r"C:\ifs.dll")], bottom=[ifs, non_ifs])
    assert codes(check(f)) == ["ifs-above-non-ifs"]
    g, changes = fix(f)
    e = g.catalog("64").get(1017)
    assert e.chain == (1016, 1015, TCP) and e.path == r"C:\plain.dll"
    assert check(g) == []


def test_lsp_shadowed_after_the_base_is_moved_above_the_lsp() -> None:
    """What 'move <base> --top' does to an LSP over that base: its chain answers nothing."""
    f = build(top=[chain(1016, (1015, TCP))], bottom=[hidden(1015)])
    assert check(f) == []
    cat = f.catalog("64")
    moved = f.with_catalog(cat.with_protocols(
        [cat.get(TCP)] + [e for e in cat.protocols if e.id != TCP]))
    found = check(moved)
    assert codes(found) == ["lsp-shadowed"]
    x = found[0]
    assert (x.severity, x.id, x.repair) == ("warning", 1016, "")
    assert "LSP 1015" in x.message and f"entry {TCP}" in x.message
    assert "AF_INET, SOCK_STREAM, IPPROTO_TCP" in x.message
    assert fix(moved) == (moved, [])


def test_lsp_shadowed_by_a_second_lsp_over_the_same_base() -> None:
    from sporder_py.ops.install_lsp import Targets, install_lsp
    f, _, a = install_lsp(WIN11, name="A", path="a.dll", provider_id=_guid(1),
                          targets=Targets(over=(TCP,)), bitnesses=["64"])
    assert check(f) == []
    g, _, b = install_lsp(f, name="B", path="b.dll", provider_id=_guid(2),
                          targets=Targets(over=(TCP,)), bitnesses=["64"])
    found = check(g)
    assert [(x.code, x.id) for x in found] == [("lsp-shadowed", a + 1)]
    # Layered over A's chain instead, B stacks and nothing is shadowed.
    h, _, _ = install_lsp(f, name="B", path="b.dll", provider_id=_guid(2),
                          targets=Targets(over=(a + 1,)), bitnesses=["64"])
    assert check(h) == []


def test_instlsp_ifs_form_is_not_shadowed() -> None:
    """[N, Le, B] reaches L's chain entry Le (below it, same triple) through N's entry."""
    from sporder_py.ops.install_lsp import Targets, install_lsp
    f, _, n = install_lsp(WIN11, name="N", path="n.dll", provider_id=_guid(1),
                          targets=Targets(over=(TCP,)), bitnesses=["64"])
    g, _, l_id = install_lsp(f, name="L", path="l.dll", provider_id=_guid(2), ifs=True,
                             targets=Targets(over=(n + 1,)), bitnesses=["64"])
    assert g.catalog("64").get(n + 1).chain == (n, l_id + 1, TCP)
    assert check(g) == []


def _only_in_32(f: CatalogFile, hid: int) -> CatalogFile:
    """The 64-bit half of an LSP removed (its hidden entry), the 32-bit half intact: the state
    a 64-bit-only WSCDeinstallProvider leaves (issue 13 case 4), built in memory."""
    cat = f.catalog("64")
    return f.with_catalog(cat.with_protocols([e for e in cat.protocols if e.id != hid]))


def test_chain_whose_top_layer_exists_only_in_the_other_catalog() -> None:
    from sporder_py.ops.install_lsp import Targets, install_lsp
    f, _, hid = install_lsp(WIN11, name="L", path="l.dll", provider_id=_guid(1),
                            targets=Targets(over=(TCP, UDP)), bitnesses=["64", "32"])
    broken = _only_in_32(f, hid)
    found = check(broken)
    orphans = [x for x in found if x.code == "orphaned-chain"]
    assert [(x.catalog, x.id, x.severity) for x in orphans] == [
        ("64", hid + 1, "error"), ("64", hid + 2, "error")]
    assert "exists only in the 32-bit catalog" in orphans[0].message
    assert "64-bit half of that LSP was removed" in orphans[0].message
    assert orphans[0].repair == f"remove chain entry {hid + 1}"
    assert {x.code for x in found} == {"orphaned-chain", "broken-base-shadowed"}
    assert all(x.catalog == "64" for x in found)
    g, changes = fix(broken)
    assert {(c.catalog, c.action, c.id) for c in changes} == {
        ("64", "remove", hid + 1), ("64", "remove", hid + 2)}
    assert g.catalog("64").protocols == WIN11.catalog("64").protocols
    assert g.catalog("32") == f.catalog("32")
    assert check(g) == []
    # uninstall of one of those orphans removes the catalog's orphan group (instlsp).
    from sporder_py.ops.uninstall import uninstall
    out, changes = uninstall(broken, entry_id=hid + 1, bitnesses=["64"])
    assert out.catalog("64").protocols == WIN11.catalog("64").protocols
