"""Naming an entry the way users do: ids, hex ids, triples, GUIDs and names (refs.py)."""

from __future__ import annotations

import pytest

from conftest import load_shipped
from sporder_py import refs
from sporder_py.errors import OperationRefused, UsageError

TCP = {"windows-11": 1004, "windows-10": 1006, "windows-7": 1001}


@pytest.mark.parametrize("name", sorted(TCP))
@pytest.mark.parametrize("text", ["inet,stream,tcp", "2,1,6", "AF_INET,SOCK_STREAM,IPPROTO_TCP",
                                  " inet , stream , tcp ", "inet,stream,0"])
def test_a_triple_names_the_base_provider_socket_reaches(name, text):
    """Windows 10 numbers TCP/IP 1006 and Windows 11 1004: scripts say inet,stream,tcp.  The RSVP
    provider with the same triple further down is not the one socket() reaches."""
    f = load_shipped(name)
    for b in f.bitnesses:
        assert refs.find_entry(f.catalog(b), text).id == TCP[name]


@pytest.mark.parametrize("text,want", [("1004", 1004), ("0x3ec", 1004), ("0X3EC", 1004),
                                       ("MSAFD Tcpip [TCP/IP]", 1004),
                                       ("msafd tcpip [tcp/ip]", 1004),
                                       ("bth,stream,rfcomm", 1014), ("inet,raw,17", 1006)])
def test_ids_hex_names_and_triples(text, want):
    assert refs.find_entry(load_shipped().catalog("64"), text).id == want


def test_an_indirect_name_is_found_by_its_stored_and_its_displayed_text():
    from dataclasses import replace
    f = load_shipped()
    cat = f.catalog("64")
    e = cat.get(1004)
    stored = "@%SystemRoot%\\system32\\mswsock.dll,-60100"
    cat = cat.with_protocols([replace(x, name=stored) if x is e else x for x in cat.protocols])
    assert refs.find_entry(cat, stored).id == 1004
    assert refs.find_entry(cat, "MSAFD Tcpip [TCP/IP]").id == 1004


def test_a_guid_names_an_lsp_by_its_hidden_entry_and_refuses_when_shared():
    from sporder_py.ops.install_lsp import Targets, install_lsp
    f = load_shipped()
    guid = "{11111111-2222-3333-4444-555555555555}"
    f2, _, *_ = install_lsp(f, name="L", path="l.dll", provider_id=guid,
                            targets=Targets(over=(1004,)), bitnesses=["64"])
    hidden = refs.find_entry(f2.catalog("64"), guid.lower().strip("{}"))
    assert hidden.kind == "layered" and hidden.name == "L"
    with pytest.raises(OperationRefused) as info:
        refs.find_entry(f.catalog("64"), "{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}")
    assert info.value.code == "ambiguous-entry" and "1004" in info.value.message
    assert info.value.exit_code == 1


@pytest.mark.parametrize("text,code,needle", [
    ("9999", "no-such-entry", "is not the id of an entry"),
    ("Nope", "no-such-entry", "names no entry"),
    ("ipx,dgram,0", "no-such-entry", "has no base provider"),
    ("{00000000-0000-0000-0000-000000000009}", "no-such-entry", "is not the provider GUID"),
])
def test_what_names_nothing_is_one_sentence(text, code, needle):
    with pytest.raises(OperationRefused) as info:
        refs.find_entry(load_shipped().catalog("64"), text)
    assert info.value.code == code and needle in info.value.message
    assert "\n" not in info.value.message and info.value.exit_code == 1


def test_a_triple_with_an_unknown_family_is_a_usage_error():
    with pytest.raises(UsageError):
        refs.find_entry(load_shipped().catalog("64"), "nosuchfamily,stream,tcp")


def test_completion_candidates_cover_ids_triples_guids_and_names():
    values = {v for v, _ in refs.candidates(load_shipped().catalog("64"))}
    assert {"1004", "inet,stream,tcp", "inet6,dgram,udp", "MSAFD Tcpip [TCP/IP]"} <= values
