"""Namespace, category and reset operations (winsock-semantics §6, §7; anchor-tools §3)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sporder_py import winsock as ws
from sporder_py.errors import OperationRefused, UsageError, WinsockError
from sporder_py.formats import catalog_toml
from sporder_py.model import AppCategory, CatalogFile, ProtocolEntry
from sporder_py.ops import categories, namespaces, reset
from sporder_py.resolver import resolve

CATALOGS = Path(__file__).resolve().parent.parent / "catalogs"

WSAEINVAL = 10022
WSANO_RECOVERY = 11003
WSASERVICE_NOT_FOUND = 10108

TCPIP_NSP = "{22059D40-7E9E-11CF-AE5A-00AA00A7112B}"     # "Tcpip" (NS_DNS), §6
NLA_NSP = "{6642243A-3BA8-4AA6-BAA5-2E0BD71FDD83}"       # NLA_NAMESPACE_GUID, §6
PNRP_CLOUD = "{03FE89CE-766D-4976-B9C1-BB9BC42C7B4D}"    # in windows-7, not in windows-11

LSP = ws.LSP_CATEGORIES
SYSTEM, FIREWALL, CRYPTO, INSPECTOR = (LSP["LSP_SYSTEM"], LSP["LSP_FIREWALL"],
                                       LSP["LSP_CRYPTO_COMPRESS"], LSP["LSP_INSPECTOR"])
FOO = r"C:\Program Files\Foo\Foo.exe"
BAR = r"C:\Program Files\Bar\Bar.exe"


def _load(name: str) -> CatalogFile:
    f, warnings = catalog_toml.loads((CATALOGS / f"{name}.toml").read_text(), name)
    assert warnings == []
    return f


WIN11 = _load("windows-11")
WIN7 = _load("windows-7")


def _roundtrip(f: CatalogFile) -> CatalogFile:
    """The result must be a valid catalog file again."""
    again, _ = catalog_toml.loads(catalog_toml.dumps(f), "result")
    assert again.same_content(f)
    return again


def _refused(exc_info: pytest.ExceptionInfo[WinsockError], number: int, *words: str) -> None:
    err = exc_info.value
    assert type(err) is WinsockError
    assert err.winsock_error == number and err.exit_code == 1
    assert err.message.endswith(f"({ws.error_name(number)} {number}).")
    for w in words:
        assert w in err.message


def _ns_guids(f: CatalogFile, bitness: str = "64") -> list[str]:
    return [n.provider_id for n in f.catalog(bitness).namespaces]  # type: ignore[arg-type]


def _pnrp_cloud():
    return next(n for n in WIN7.catalog("64").namespaces if n.provider_id == PNRP_CLOUD)


# --- namespaces (§6) --------------------------------------------------------------------------

def test_ns_install_appends_at_end_of_every_selected_catalog() -> None:
    before = catalog_toml.dumps(WIN11)
    out, changes = namespaces.ns_install(WIN11, _pnrp_cloud(), ["64", "32"])
    for b in ("64", "32"):
        assert _ns_guids(out, b) == _ns_guids(WIN11, b) + [PNRP_CLOUD]
    assert [(c.action, c.catalog, c.detail) for c in changes] == [
        ("namespace-add", "64", PNRP_CLOUD), ("namespace-add", "32", PNRP_CLOUD)]
    assert catalog_toml.dumps(WIN11) == before
    _roundtrip(out)


def test_ns_install_normalizes_guid_and_acts_on_one_catalog() -> None:
    entry = replace(_pnrp_cloud(), provider_id=PNRP_CLOUD.strip("{}").lower())
    out, changes = namespaces.ns_install(WIN11, entry, ["32"])
    assert _ns_guids(out, "32")[-1] == PNRP_CLOUD
    assert out.catalog("64") == WIN11.catalog("64")
    assert len(changes) == 1


def test_ns_install_duplicate_guid_is_wsano_recovery() -> None:
    entry = replace(_pnrp_cloud(), provider_id=TCPIP_NSP, name="Another DNS")
    with pytest.raises(WinsockError) as exc:
        namespaces.ns_install(WIN11, entry, ["64"])
    _refused(exc, WSANO_RECOVERY, TCPIP_NSP, "already installed", "64-bit")


def test_ns_install_is_all_or_nothing_across_catalogs() -> None:
    only32, _ = namespaces.ns_install(WIN11, _pnrp_cloud(), ["32"])
    with pytest.raises(WinsockError) as exc:
        namespaces.ns_install(only32, _pnrp_cloud(), ["64", "32"])
    _refused(exc, WSANO_RECOVERY, "32-bit")
    assert PNRP_CLOUD not in _ns_guids(only32, "64")


@pytest.mark.parametrize("field,limit", [("name", 255), ("path", 259)])
def test_ns_install_length_limits(field: str, limit: int) -> None:
    ok, _ = namespaces.ns_install(WIN11, replace(_pnrp_cloud(), **{field: "x" * limit}), ["64"])
    _roundtrip(ok)
    with pytest.raises(WinsockError) as exc:
        namespaces.ns_install(WIN11, replace(_pnrp_cloud(), **{field: "x" * (limit + 1)}), ["64"])
    _refused(exc, WSAEINVAL, f"namespace provider {field}", str(limit + 1), str(limit))


def test_ns_bad_guid_and_bad_bitness_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="'not-a-guid' is not a GUID"):
        namespaces.ns_uninstall(WIN11, "not-a-guid", ["64"])
    only64 = replace(WIN11, catalogs={"64": WIN11.catalog("64")})
    with pytest.raises(UsageError, match="has no 32-bit catalog") as exc:
        namespaces.ns_enable(only64, TCPIP_NSP, False, ["32"])
    assert exc.value.exit_code == 2
    with pytest.raises(UsageError, match="not a bitness"):
        namespaces.ns_install(WIN11, _pnrp_cloud(), ["16"])
    with pytest.raises(UsageError, match="No catalog"):
        namespaces.ns_install(WIN11, _pnrp_cloud(), [])


def test_ns_uninstall_removes_and_refuses_unknown() -> None:
    out, changes = namespaces.ns_uninstall(WIN11, NLA_NSP.lower(), ["64", "32"])
    assert NLA_NSP not in _ns_guids(out, "64") + _ns_guids(out, "32")
    assert len(_ns_guids(out, "64")) == len(_ns_guids(WIN11, "64")) - 1
    assert [c.action for c in changes] == ["namespace-remove"] * 2
    with pytest.raises(WinsockError) as exc:
        namespaces.ns_uninstall(out, NLA_NSP, ["64"])
    _refused(exc, WSAEINVAL, NLA_NSP, "not installed", "64-bit")
    # M3 analogue for namespaces: it can be installed again afterwards.
    nla = next(n for n in WIN11.catalog("64").namespaces if n.provider_id == NLA_NSP)
    again, _ = namespaces.ns_install(out, nla, ["64"])
    assert _ns_guids(again)[-1] == NLA_NSP


def test_ns_enable_disable_and_noop() -> None:
    out, changes = namespaces.ns_enable(WIN11, NLA_NSP, False, ["64"])
    nla = next(n for n in out.catalog("64").namespaces if n.provider_id == NLA_NSP)
    assert nla.enabled is False
    assert changes[0].action == "namespace-update"
    assert changes[0].fields == (("enabled", True, False),)
    assert all(n.enabled for n in out.catalog("32").namespaces)
    same, none = namespaces.ns_enable(out, NLA_NSP, False, ["64"])
    assert none == [] and same is out
    _roundtrip(out)
    with pytest.raises(WinsockError) as exc:
        namespaces.ns_enable(WIN11, PNRP_CLOUD, True, ["64"])
    _refused(exc, WSAEINVAL, PNRP_CLOUD)


def test_ns_reorder_reverse_permutation() -> None:
    guids = _ns_guids(WIN11)
    given = [g.strip("{}").lower() for g in reversed(guids)]
    out, changes = namespaces.ns_reorder(WIN11, given, "64")
    assert _ns_guids(out) == guids[::-1]
    assert _ns_guids(out, "32") == guids
    assert {c.detail for c in changes} == set(guids) - {guids[2]}   # the middle one stays
    assert ("position", 1, 5) in [c.fields[0] for c in changes]
    same, none = namespaces.ns_reorder(WIN11, guids, "64")
    assert none == [] and same is WIN11


@pytest.mark.parametrize("edit,words", [
    (lambda g: g[:-1], ["missing", "{06AA63E0"]),
    (lambda g: g + [g[0]], ["duplicated", "{964ACBA2"]),
    (lambda g: g[:-1] + [PNRP_CLOUD], ["unknown " + PNRP_CLOUD, "missing {06AA63E0"]),
])
def test_ns_reorder_not_a_permutation(edit, words: list[str]) -> None:   # §4.4 M5 rules
    with pytest.raises(WinsockError) as exc:
        namespaces.ns_reorder(WIN11, edit(_ns_guids(WIN11)), "64")
    _refused(exc, WSAEINVAL, "not a permutation of the 5 namespace providers", *words)


def test_ns_reorder_malformed_guid_is_usage_error() -> None:
    with pytest.raises(UsageError):
        namespaces.ns_reorder(WIN11, _ns_guids(WIN11)[:-1] + ["{06AA63E0}"], "64")


# --- LSP and application categories (§7) ------------------------------------------------------

def _stacked_lsps(f: CatalogFile) -> CatalogFile:
    """Four LSPs stacked over TCP/IP as installers do (DESIGN §1): LSPk has hidden entry hk and
    chain Ck = [hk, hk-1, .., h1, TCP/IP]; chains go to the top, hidden entries to the end."""
    tcp = next(e for e in f.catalog("64").protocols if e.name == "MSAFD Tcpip [TCP/IP]")
    hidden, chains, next_id = [], [], f.next_entry_id
    for k in range(1, 5):
        path = rf"%SystemRoot%\system32\lsp{k}.dll"
        guid = f"{{0000000{k}-1111-2222-3333-444444444444}}"
        h = ProtocolEntry(next_id, "layered", f"LSP{k}", guid, path, *tcp.triple,
                          service_flags=tcp.service_flags, provider_flags=ws.PFL_HIDDEN)
        below = chains[0].chain if chains else (tcp.id,)
        c = replace(tcp, id=next_id + 1, kind="chain", name=f"LSP{k} over [{tcp.name}]",
                    provider_id=f"{{0000000{k}-5555-6666-7777-888888888888}}", path=path,
                    chain=(h.id, *below))
        hidden.append(h)
        chains.insert(0, c)
        next_id += 2
    out = replace(f, next_entry_id=next_id)
    for b in f.bitnesses:
        cat = f.catalog(b)
        out = out.with_catalog(cat.with_protocols(chains + list(cat.protocols) + hidden))
    return _roundtrip(out)


LSPS = _stacked_lsps(WIN11)
H = {k: 1013 + 2 * k for k in range(1, 5)}      # hidden ids 1015, 1017, 1019, 1021
C = {k: H[k] + 1 for k in range(1, 5)}          # chain ids 1016, 1018, 1020, 1022


def _categorized(f: CatalogFile) -> CatalogFile:
    """§7.4 example: LSP1 = SYSTEM, LSP2 = 0, LSP3 = FIREWALL,
    LSP4 = SYSTEM|FIREWALL|CRYPTO_COMPRESS|INSPECTOR (set via its chain entry C4)."""
    lsp4 = SYSTEM | FIREWALL | CRYPTO | INSPECTOR
    for target, cats in ((H[1], SYSTEM), (C[3], FIREWALL), (C[4], lsp4)):
        f, _ = categories.set_lsp_categories(f, target, cats, ["64", "32"])
    return f


def test_set_lsp_categories_on_hidden_entry_via_chain_id() -> None:
    out, changes = categories.set_lsp_categories(LSPS, C[2], FIREWALL, ["64"])
    assert out.catalog("64").get(H[2]).lsp_categories == FIREWALL     # §7.2: the hidden entry
    assert out.catalog("64").get(C[2]) == LSPS.catalog("64").get(C[2])
    assert out.catalog("32") == LSPS.catalog("32")
    assert [(c.action, c.catalog, c.id, c.fields) for c in changes] == [
        ("update", "64", H[2], (("lsp_categories", 0, FIREWALL),))]
    # Set semantics: the value is replaced, not OR-ed; the same value again changes nothing.
    out2, changes2 = categories.set_lsp_categories(out, H[2], INSPECTOR, ["64"])
    assert out2.catalog("64").get(H[2]).lsp_categories == INSPECTOR
    assert changes2[0].fields == (("lsp_categories", FIREWALL, INSPECTOR),)
    assert categories.set_lsp_categories(out2, C[2], INSPECTOR, ["64"]) == (out2, [])
    _roundtrip(out2)


@pytest.mark.parametrize("entry_id,words", [
    (1004, ["Entry 1004", "base provider"]),
    (1999, ["Entry 1999 is not in the 32-bit catalog"]),
])
def test_set_lsp_categories_refusals(entry_id: int, words: list[str]) -> None:
    with pytest.raises(WinsockError) as exc:
        categories.set_lsp_categories(LSPS, entry_id, FIREWALL, ["32"])
    _refused(exc, WSAEINVAL, *words)


def test_set_lsp_categories_orphaned_chain() -> None:   # §4.10 M8: hidden entry removed
    cat = LSPS.catalog("64")
    orphaned = LSPS.with_catalog(cat.with_protocols([e for e in cat.protocols if e.id != H[4]]))
    with pytest.raises(WinsockError) as exc:
        categories.set_lsp_categories(orphaned, C[4], FIREWALL, ["64", "32"])
    _refused(exc, WSAEINVAL, f"Chain entry {C[4]}", f"top layer {H[4]}")


def test_app_category_set_ors_repeated_calls() -> None:   # §7.3
    f, ch1 = categories.app_category_set(LSPS, FOO, "", SYSTEM | FIREWALL)
    f, ch2 = categories.app_category_set(f, FOO.upper(), "", CRYPTO)
    assert f.app_categories == (AppCategory(FOO, "", SYSTEM | FIREWALL | CRYPTO),)
    assert (ch1[0].action, ch1[0].fields) == (
        "app-category-add", (("categories", None, SYSTEM | FIREWALL),))
    assert (ch2[0].action, ch2[0].fields) == (
        "app-category-update", (("categories", SYSTEM | FIREWALL, SYSTEM | FIREWALL | CRYPTO),))
    assert categories.app_category_set(f, FOO.lower(), "", FIREWALL) == (f, [])
    assert categories.app_category_get(f, FOO.lower()) == SYSTEM | FIREWALL | CRYPTO
    # Arguments are part of the identity and compared exactly (svchost -k groups).
    assert categories.app_category_get(f, FOO, "-k netsvcs") is None
    g, _ = categories.app_category_set(f, FOO, "-k netsvcs", SYSTEM)
    assert len(g.app_categories) == 2
    assert categories.app_category_get(g, FOO, "-K NETSVCS") is None
    _roundtrip(g)


def test_app_category_remove_and_refusals() -> None:
    f, _ = categories.app_category_set(LSPS, BAR, "", FIREWALL)
    out, changes = categories.app_category_remove(f, BAR.lower())
    assert out.app_categories == ()
    assert (changes[0].action, changes[0].name) == ("app-category-remove", BAR)
    with pytest.raises(WinsockError) as exc:
        categories.app_category_remove(out, BAR)
    _refused(exc, WSASERVICE_NOT_FOUND, "Bar.exe", "not categorized")
    for call in (lambda: categories.app_category_set(f, "", "", FIREWALL),
                 lambda: categories.app_category_get(f, ""),
                 lambda: categories.app_category_remove(f, "")):
        with pytest.raises(WinsockError) as exc:
            call()
        _refused(exc, WSAEINVAL, "application path is empty")
    assert f.app_categories == (AppCategory(BAR, "", FIREWALL),)


def test_documented_load_example_foo_and_bar() -> None:
    """§7.4 [DOC Categorizing LSPs]: Foo.exe loads only LSP1, Bar.exe loads only LSP3."""
    f = _categorized(LSPS)
    f, _ = categories.app_category_set(f, FOO, "", SYSTEM | FIREWALL)
    f, _ = categories.app_category_set(f, FOO, "", CRYPTO)           # OR-ed into Foo's set
    f, _ = categories.app_category_set(f, BAR, "", FIREWALL | CRYPTO)
    cat = f.catalog("64")
    res = resolve(cat, ws.ADDRESS_FAMILIES["AF_INET"], ws.SOCKET_TYPES["SOCK_STREAM"], 0)
    assert res.entry is not None and res.entry.id == C[4]

    def loaded(path: str, args: str = "") -> list[tuple[str, int, bool]]:
        return [(e.name, cats, ok) for e, cats, ok in
                categories.lsp_load_report(f, cat, res, path, args)]  # type: ignore[union-attr]

    names = ["LSP4", "LSP3", "LSP2", "LSP1", "MSAFD Tcpip [TCP/IP]"]
    cats = [SYSTEM | FIREWALL | CRYPTO | INSPECTOR, FIREWALL, 0, SYSTEM, 0]
    assert loaded(FOO) == list(zip(names, cats, [False, False, False, True, True], strict=True))
    assert loaded(BAR.lower()) == list(
        zip(names, cats, [False, True, False, False, True], strict=True))
    # Not categorized -> every LSP loads.
    assert [ok for *_, ok in loaded(r"C:\Other\Baz.exe")] == [True] * 5
    assert [ok for *_, ok in loaded(FOO, "--flag")] == [True] * 5


def test_lsp_load_report_orphan_and_failed_resolution() -> None:
    cat = LSPS.catalog("64")
    res = resolve(cat, ws.ADDRESS_FAMILIES["AF_INET"], ws.SOCKET_TYPES["SOCK_STREAM"], 0)
    orphaned = cat.with_protocols([e for e in cat.protocols if e.id != H[3]])
    report = categories.lsp_load_report(LSPS, orphaned, res, FOO)
    assert report[1] == (None, 0, False)
    assert [e.id for e, *_ in report if e] == [H[4], H[2], H[1], 1004]
    bad = resolve(cat, ws.ADDRESS_FAMILIES["AF_INET"], ws.SOCKET_TYPES["SOCK_STREAM"], 17)
    with pytest.raises(WinsockError) as exc:
        categories.lsp_load_report(LSPS, cat, bad, FOO)
    assert exc.value.winsock_error == ws.WSAEPROTONOSUPPORT


# --- netsh winsock reset (anchor-tools §3, default-catalogs §1 item 4, §5) --------------------

def test_reset_removes_lsps_keeps_namespaces_and_app_categories() -> None:
    f, _ = namespaces.ns_install(_categorized(LSPS), _pnrp_cloud(), ["64", "32"])
    f, _ = categories.app_category_set(f, FOO, "", FIREWALL)
    out, changes = reset.reset(f, WIN11)
    for b in ("64", "32"):
        assert out.catalog(b).protocols == WIN11.catalog(b).protocols
        assert out.catalog(b).namespaces == f.catalog(b).namespaces
        assert PNRP_CLOUD in _ns_guids(out, b)
    assert out.app_categories == f.app_categories and out.wsk == f.wsk
    assert out.next_entry_id == 1015              # ids restart: 1015.. will be handed out again
    removed = sorted(c.id for c in changes if c.action == "remove" and c.catalog == "64")
    assert removed == sorted([*H.values(), *C.values()])
    assert not [c for c in changes if c.action in ("add", "move")]
    assert changes[-1].fields == (("next_entry_id", 1023, 1015),)
    _roundtrip(out)
    assert reset.reset(out, WIN11) == (out, [])


def test_reset_order_only_reports_moves() -> None:
    cat = WIN11.catalog("64")
    moved = WIN11.with_catalog(cat.with_protocols(cat.protocols[1:] + cat.protocols[:1]))
    out, changes = reset.reset(moved, WIN11)
    assert out.catalog("64") == cat
    assert {c.action for c in changes} == {"move"}
    assert (1001, ("position", 14, 1)) in [(c.id, c.fields[0]) for c in changes]


def test_reset_windows7_file_to_windows11_defaults() -> None:
    out, changes = reset.reset(WIN7, WIN11)
    assert out.catalog("64").protocols == WIN11.catalog("64").protocols
    assert out.catalog("64").namespaces == WIN7.catalog("64").namespaces
    # Same id, different fields (e.g. 1001 is TCP/IP on Win7, TCP/IPv6 on Win11): remove + add.
    acts = {(c.action, c.id) for c in changes if c.catalog == "64"}
    assert ("remove", 1001) in acts and ("add", 1001) in acts
    assert ("add", 1014) in acts and out.next_entry_id == 1015


def test_reset_catalog_missing_from_default_is_refused() -> None:
    only64 = replace(WIN11, catalogs={"64": WIN11.catalog("64")})
    with pytest.raises(OperationRefused) as exc:
        reset.reset(LSPS, only64)
    assert exc.value.code == "reset-no-default" and "32-bit" in exc.value.message
    # The other way round: a file without a WOW64 catalog does not get one.
    out, _ = reset.reset(replace(LSPS, catalogs={"64": LSPS.catalog("64")}), WIN11)
    assert out.bitnesses == ["64"]
