"""Running a mutating command: the locked transaction, then its plan (human or JSON).

Commands that edit entries turn their options into an operation spec (the same table
``sporder apply`` reads) and run it through ``ops.batch`` (``run_spec``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .. import render as R
from ..model import CatalogFile, Change
from ..store import shipped, transaction
from .app import Globals, command_line, dry_run_option, emit, json_option


def run_mutation(g: Globals, command: str, operation: transaction.Operation, *, as_json: bool,
                 dry_run: bool, if_serial: int | None, summary: str | Callable[[list[Change]], str],
                 create: CatalogFile | None = None,
                 undo_target: Callable[[CatalogFile], int] | None = None,
                 human_extra: Callable[[transaction.Outcome], None] | None = None,
                 ) -> transaction.Outcome:
    """Load under the lock, apply, validate, save (or not, for --dry-run), render the plan."""
    loc = g.location
    if not dry_run and loc.origin == "default" and not os.path.exists(loc.path) and create is None:
        R.err(f"sporder: note: creating {loc.path} from the shipped {shipped.DEFAULT_CATALOG} "
              "default catalog.")
    summarize: Callable[[list[Change]], str] = (
        summary if callable(summary) else (lambda _c: summary))
    outcome = transaction.mutate(loc, operation, command=command_line(), summary=summarize,
                           dry_run=dry_run, if_serial=if_serial, lock_timeout=g.lock_timeout,
                           create=create, undo_target=undo_target)
    for w in outcome.warnings:
        R.warn(w)
    # A file created by this write (init, import) had no catalog before: every call changes.
    before = (CatalogFile(catalogs={}) if create is not None and outcome.before is create
              else outcome.before)
    orders: dict[str, tuple[list[int], list[int]]] = {
        b: (before.catalogs[b].ids if b in before.catalogs else [],
            outcome.after.catalogs[b].ids if b in outcome.after.catalogs else [])
        for b in outcome.after.bitnesses}
    native = outcome.after.native
    from ..effects import resolution_changes
    effects = resolution_changes(before, outcome.after) if outcome.changes else []
    data: dict[str, Any] = {
        "changes": [c.to_json() for c in outcome.changes],
        "order_before": orders[native][0], "order_after": orders[native][1],
        "orders": {b: {"before": o[0], "after": o[1]} for b, o in orders.items()},
        "serial": outcome.after.serial if outcome.changes else outcome.before.serial,
        "dry_run": dry_run, **outcome.extra,
        "resolution_changes": [c.to_json() for c in effects]}

    def human() -> None:
        if human_extra:
            human_extra(outcome)
        R.plan(outcome.changes, orders, (outcome.before.serial, outcome.after.serial), dry_run,
               effects)
    emit(as_json, command, data, human)
    return outcome



def _ctx() -> Any:
    from ..ops.batch import Ctx
    return Ctx(load_default=shipped.load_shipped)


def _summary(command: str, spec: dict[str, Any]) -> Any:
    def summarize(changes: list[Change]) -> str:
        adds = sum(c.action == "add" for c in changes)
        removes = sum(c.action == "remove" for c in changes)
        updates = len(changes) - adds - removes
        return f"{command}: {adds} added, {removes} removed, {updates} changed"
    return summarize


def run_spec(g: Globals, spec: dict[str, Any], *, as_json: bool, dry_run: bool,
             if_serial: int | None) -> transaction.Outcome:
    from ..ops import batch
    spec = {k: v for k, v in spec.items() if v is not None and v != () and v is not False}
    command = spec["command"]

    def op(f: CatalogFile) -> tuple[CatalogFile, list[Change], dict[str, Any]]:
        return batch.run_one(f, spec, bitness=g.bitness, where=command, ctx=_ctx())

    def extra(outcome: transaction.Outcome) -> None:
        if outcome.extra.get("provider_id_generated"):
            R.err(f"sporder: provider id {outcome.extra['provider_id']} (generated)")
        if "lsp_id" in outcome.extra:
            R.err(f"sporder: the LSP's hidden entry is {outcome.extra['lsp_id']}")
    return run_mutation(g, command, op, as_json=as_json, dry_run=dry_run, if_serial=if_serial,
                        summary=_summary(command, spec), human_extra=extra)


def _mutating(fn: Any) -> Any:
    return json_option(dry_run_option(fn))


# --- protocol entries ---------------------------------------------------------------------------
