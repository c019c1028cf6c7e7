"""``verify``, ``gc`` and ``recover``: check, clean and rebuild what the registry stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from modelshelf.cli._core import (
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    Env,
    Failure,
    cli,
    shelf_command,
)
from modelshelf.cli._helpers import (
    _out,
    _say,
)
from modelshelf.errors import MetadataMissingError


@shelf_command(cli)
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(exists=True, path_type=Path),
    help="Check this bundle instead of the registry (nothing is imported).",
)
@click.option("--shallow", is_flag=True, help="Check sizes only; do not hash every file.")
def verify(env: Env, bundle_path: Path | None, shallow: bool) -> None:
    """Check stored files against their checksums; exit 3 if any is missing or damaged.

    Example: modelshelf verify
    """
    if bundle_path is not None:
        from modelshelf import bundle

        checked = bundle.verify_path(env.open(), bundle_path)
        data = {
            "ok": True,
            "bundle": str(bundle_path),
            "versions": [b.metadata.reference for b in checked],
            "signature_checked": all(b.signature_checked for b in checked),
        }
        _out(
            env,
            data,
            lambda: _say(
                f"bundle ok: {len(checked)} version(s)"
                + (", signature checked" if data["signature_checked"] else "")
            ),
        )
        return
    try:
        report = env.open().verify(deep=not shallow)
    except MetadataMissingError as exc:
        lost = {"kind": "metadata", "key": None, "model_id": None, "detail": str(exc)}
        _out(
            env,
            {"ok": False, "checked": 0, "findings": [lost]},
            lambda: _say(f"metadata  {lost['detail']}"),
        )
        raise click.exceptions.Exit(EXIT_INTEGRITY) from exc
    findings = [
        {"kind": f.kind, "key": f.key, "model_id": f.model_id, "detail": f.detail}
        for f in report.findings
    ]

    def human() -> None:
        for f in report.findings:
            _say(f"{f.kind:9} {f.key}  {f.detail}")
        from modelshelf.registry import PROBLEM_KINDS

        problems = sum(1 for f in report.findings if f.kind in PROBLEM_KINDS)
        _say(
            f"checked {report.checked} file(s): "
            + ("ok" if report.ok else f"{problems} problem(s)")
            + (
                f", {len(report.findings) - problems} to clean up (modelshelf gc)"
                if len(report.findings) > problems
                else ""
            )
        )

    _out(env, {"ok": report.ok, "checked": report.checked, "findings": findings}, human)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_INTEGRITY)


@shelf_command(cli)
@click.option("--apply", "apply_", is_flag=True, help="Delete; without it, only list.")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    help="Leave files younger than this many seconds (a save may be in flight).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Also delete what looks like lost versions (unrecorded files, or most of the "
    "registry); run `modelshelf recover` first.",
)
def gc(env: Env, apply_: bool, min_age: float, force: bool) -> None:
    """Find (and with --apply remove) orphan and leftover temporary files.

    Files of versions the metadata store no longer records are kept unless
    --force: they are lost metadata, not leftovers.

    Example: modelshelf gc
    """
    keys = env.open().gc(dry_run=not apply_, min_age_seconds=min_age, force=force)

    def human() -> None:
        for key in keys:
            _say(("removed " if apply_ else "would remove ") + key)
        _say(f"{len(keys)} file(s) " + ("removed" if apply_ else "to remove (use --apply)"))

    _out(env, {"applied": apply_, "files": keys}, human)


@shelf_command(cli)
@click.option(
    "--versioning", metavar="NAME", help="Versioning scheme, if the registry has no record."
)
def recover(env: Env, versioning: str | None) -> None:
    """Rebuild lost or damaged metadata from the sidecars beside the model files.

    A damaged metadata file is moved aside (never deleted); every version
    whose sidecar survives and whose files match their checksums is recorded
    again. Exit 3 if something could not be recovered or verified.

    Example: modelshelf recover --registry data/models/registry
    """
    from modelshelf.recovery import recover as rebuild

    path = env.path
    if not path.is_dir():
        raise Failure(f"no registry at {path}", EXIT_NOT_FOUND, "RegistryNotFound")
    options: dict[str, Any] = {}
    if env.store:
        options["store"] = env.store
    if env.store_url:
        options["store_url"] = env.store_url
    if versioning:
        options["versioning"] = versioning
    report = rebuild(path, **options)

    def human() -> None:
        for moved in report.set_aside:
            _say(f"set aside {moved}")
        for reference in report.recovered:
            _say(f"recovered {reference}")
        for reason in report.skipped:
            _say(f"skipped   {reason}")
        for key in report.unrecoverable:
            _say(f"no sidecar {key} (left in place; `modelshelf gc` removes leftovers)")
        _say(
            f"{len(report.recovered)} version(s) recovered, {report.already_recorded} already "
            f"recorded, {len(report.skipped)} skipped; verify "
            + ("ok" if report.verify.ok else "found problems (run `modelshelf verify`)")
        )

    _out(env, {**report.as_dict(), "ok": report.ok}, human)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_INTEGRITY)
