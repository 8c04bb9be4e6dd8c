"""The Winsock Kernel registration model: ``wsk info`` and ``wsk capture``."""

from __future__ import annotations

from typing import Any

import click

from .. import render as R
from ..errors import OperationRefused, UsageError
from .app import Globals, emit, json_option


@click.group("wsk")
def wsk_group() -> None:
    """Winsock Kernel client registration: the modelled WSK NPI version range."""


def _wsk_range(g: Globals) -> Any:
    from ..model import WskRange
    f = g.read().file
    return f.wsk or WskRange(0x0100, 0x0100, False)


@wsk_group.command("info")
@json_option
@click.pass_obj
def wsk_info_cmd(g: Globals, as_json: bool) -> None:
    """Show the WSK NPI version range the catalog's Windows supports."""
    from ..winsock import format_wsk_version
    rng = _wsk_range(g)
    data = {"lowest": format_wsk_version(rng.lowest), "highest": format_wsk_version(rng.highest),
            "lowest_value": rng.lowest, "highest_value": rng.highest,
            "documented": rng.documented}
    emit(as_json, "wsk info", data, lambda: R.out(
        f"WSK NPI versions {data['lowest']} .. {data['highest']}"
        + ("" if rng.documented else " (assumed: nothing more is documented for this Windows)")))


@wsk_group.command("capture")
@click.option("--version", "version_", required=True, metavar="X.Y",
              help="The client's WSK_CLIENT_DISPATCH version (MAKE_WSK_VERSION(X, Y)).")
@click.option("--no-wait", "mode", flag_value="no-wait", help="WSK_NO_WAIT.")
@click.option("--infinite", "mode", flag_value="infinite", help="WSK_INFINITE_WAIT.")
@click.option("--wait", "wait_ms", type=click.IntRange(min=1, max=0xFFFFFFFE), metavar="MS",
              help="Wait at most MS milliseconds.")
@click.option("--ready-after", type=click.FloatRange(min=0), default=0.0, show_default=True,
              metavar="MS", help="The subsystem becomes ready MS milliseconds after start.")
@json_option
@click.pass_obj
def wsk_capture_cmd(g: Globals, version_: str, mode: str | None, wait_ms: int | None,
                    ready_after: float, as_json: bool) -> None:
    """Run register -> capture -> (on STATUS_NOINTERFACE: query, deregister, re-register,
    capture) -> release -> deregister, printing each call's status and duration."""
    from ..winsock import parse_wsk_version
    from ..wsk import (
        WSK_INFINITE_WAIT,
        WSK_NO_WAIT,
        NtStatus,
        run_capture_sequence,
    )
    if (mode is not None) + (wait_ms is not None) > 1:
        raise UsageError("give one of --no-wait, --infinite, --wait MS.")
    timeout = (WSK_NO_WAIT if mode == "no-wait" else WSK_INFINITE_WAIT if mode == "infinite"
               else wait_ms if wait_ms is not None else WSK_INFINITE_WAIT)
    rng = _wsk_range(g)
    records = run_capture_sequence(rng.lowest, rng.highest, parse_wsk_version(version_), timeout,
                                   ready_after)
    captured = any(r.call == "WskCaptureProviderNPI" and r.status == NtStatus.STATUS_SUCCESS
                   for r in records)
    data = {"calls": [r.to_json() for r in records], "captured": captured}

    def human() -> None:
        R.table(["CALL", "ARGS", "STATUS", "MS", "DETAIL"],
                [[r.call, r.args, r.status_name, f"{r.elapsed_ms:.1f}", r.detail]
                 for r in records])
    error = None if captured else OperationRefused("the provider NPI was not captured.",
                                                   code="wsk-not-captured")
    emit(as_json, "wsk capture", data, human, error)

