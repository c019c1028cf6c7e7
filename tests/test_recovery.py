"""Losing a metadata file is never silent, gc never empties a registry, and recover rebuilds it.

Each case damages a real registry on disk (every local store), then checks
that opening it is a typed error, that ``verify`` (Python or CLI) reports
it, that ``gc`` deletes nothing, and that ``recover`` brings back every
version, which then loads and verifies.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from modelshelf import GcRefusedError, MetadataMissingError, ModelRegistry, Stage
from modelshelf.cli import cli
from modelshelf.manifest import MANIFEST_FILE, SIDECAR_DIR
from modelshelf.recovery import recover
from modelshelf_plugins import json_store

if TYPE_CHECKING:
    from collections.abc import Callable

    from sklearn.linear_model import LogisticRegression

SCRIPT = Path(sys.executable).with_name("modelshelf")
VERSIONS = 20


def _populate(root: Path, store: str, models: list[Any]) -> dict[str, Any]:
    """20 versions of two names (one with an artifact, one promoted, one aliased,
    one deleted) and a checkpoint; returns what must come back.

    Version ``i`` (tag ``i``) holds ``models[i]`` and the checkpoint
    ``models[VERSIONS]``, so a load can be checked to give back the right one.
    """
    with ModelRegistry(root, store=store, versioning="integer") as reg:
        for i in range(VERSIONS):
            reg.save_model(
                models[i],
                model_name="iris" if i % 2 else "fraud",
                metrics={"f1": 0.5 + i / 100},
                tags={"i": str(i)},
                artifacts={"scaler": {"mean": i}} if i == 3 else None,
            )
        reg.delete_model(5)
        reg.transition_stage("iris", 4, "Production")
        reg.set_alias("fraud:2", "champion")
        reg.save_checkpoint(models[VERSIONS], "iris", step=7, metrics={"loss": 0.3})
        return {
            "versions": sorted(
                (m.reference, m.stage.value, m.aliases, m.metrics["f1"]) for m in reg.list_models()
            ),
            "checkpoints": [m.version for m in reg.list_checkpoints("iris")],
        }


def _files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in (root / "models").rglob("*") if p.is_file()
    )


def _state(reg: ModelRegistry) -> dict[str, Any]:
    return {
        "versions": sorted(
            (m.reference, m.stage.value, m.aliases, m.metrics["f1"]) for m in reg.list_models()
        ),
        "checkpoints": [m.version for m in reg.list_checkpoints("iris")],
    }


def _delete(path: Path) -> None:
    path.unlink()


def _truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _truncate_empty(path: Path) -> None:
    os.truncate(path, 0)


def _random_header(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.write(random.Random(1).randbytes(4096))


def _random_whole(path: Path) -> None:
    path.write_bytes(random.Random(2).randbytes(path.stat().st_size))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "deleted": _delete,
    "truncated-half": _truncate_half,
    "truncated-empty": _truncate_empty,
    "random-header": _random_header,
    "random-whole": _random_whole,
}
#: (store, file damaged, whether the JSON journal is folded into index.json first)
TARGETS = [
    ("sqlite", "registry.db", False),
    ("json", "index.journal", False),
    ("json", "index.json", True),
]
CASES = [
    pytest.param(store, name, fold, damage, id=f"{store}-{name}-{damage}")
    for store, name, fold in TARGETS
    for damage in DAMAGE
]


@pytest.mark.parametrize(("store", "name", "fold", "damage"), CASES)
def test_damaged_metadata_is_refused_reported_kept_and_recovered(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    store: str,
    name: str,
    fold: bool,
    damage: str,
    logistic: LogisticRegression,
    logistics: list[LogisticRegression],
) -> None:
    if fold:  # fold the journal into index.json after a few changes
        monkeypatch.setattr(json_store, "MIN_COMPACTION_LINES", 4)
    root = tmp_path / "r"
    expected = _populate(root, store, logistics)
    files = _files(root)
    assert (root / name).exists()
    DAMAGE[damage](root / name)

    runner = CliRunner()
    verify = runner.invoke(cli, ["verify", "--registry", str(root), "--json"])
    assert verify.exit_code == 3, verify.output
    report = json.loads(verify.stdout)
    assert report["ok"] is False
    if damage == "truncated-half" and name == "index.journal":
        # The journal's first half is intact and the registry opens with the
        # versions it records; the others' sidecars make them "unrecorded".
        with ModelRegistry(root) as partial:
            assert 0 < len(partial.list_models()) < len(expected["versions"])
            kinds = {f.kind for f in partial.verify().findings}
            # ...and the lost tail held the delete of version 5, whose file is gone.
            assert kinds == {"unrecorded", "missing"}
            assert partial.gc(dry_run=False, min_age_seconds=0) == []
    else:
        with pytest.raises(MetadataMissingError) as info:
            ModelRegistry(root)
        assert "modelshelf recover" in str(info.value)
        assert [f["kind"] for f in report["findings"]] == ["metadata"]
    gc = runner.invoke(cli, ["gc", "--apply", "--min-age", "0", "--registry", str(root)])
    assert gc.exit_code in (0, 3)
    assert _files(root) == files  # gc deleted nothing

    partial_loss = damage == "truncated-half" and name == "index.journal"
    rebuilt = recover(root)
    assert rebuilt.unrecoverable == ()
    with ModelRegistry(root) as reg:
        stale = [f.model_id for f in reg.verify().findings if f.kind == "missing"]
        assert stale == ([5] if partial_loss else [])
        for model_id in stale:  # a deleted version the truncated journal brought back
            assert model_id is not None
            reg.delete_model(model_id)
        if partial_loss:
            # Versions the store kept stay as it has them (their later stage and
            # alias changes were in the lost tail); the others come back whole.
            assert [v[0] for v in _state(reg)["versions"]] == [v[0] for v in expected["versions"]]
            reg.transition_stage("iris", "4", "Production")
            reg.set_alias("fraud:2", "champion")
        assert _state(reg) == expected
        for metadata in [*reg.list_models(), *reg.list_checkpoints("iris")]:
            loaded = reg.load(metadata.model_id)
            index = VERSIONS if metadata.checkpoint else int(metadata.tags["i"])
            assert loaded.model.C == logistics[index].C, metadata.reference
            assert set(loaded.artifacts) == set(metadata.artifacts)
        assert reg.get_production_model("iris").version == "4"  # type: ignore[union-attr]
        assert reg.verify().findings == ()
        assert reg.gc(dry_run=False, min_age_seconds=0) == []
        # Versions keep counting from where they were.
        assert reg.get_metadata(reg.save_model(logistic, model_name="iris")).version == "11"
    assert [p for p in _files(root) if p not in files] != []
    assert recover(root).recovered == ()  # a second run changes nothing


def test_the_cli_recovers_a_lost_database(
    tmp_path: Path, logistics: list[LogisticRegression]
) -> None:
    root = tmp_path / "r"
    expected = _populate(root, "sqlite", logistics)
    (root / "registry.db").unlink()
    done = subprocess.run(
        [str(SCRIPT), "recover", "--registry", str(root), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["recovered"]) == len(expected["versions"]) + 1  # and the checkpoint
    assert report["verify_ok"] is True
    with ModelRegistry(root) as reg:
        assert _state(reg) == expected


@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_metadata_rolled_back_to_an_old_copy_is_reported_and_gc_keeps_the_files(
    tmp_path: Path, store: str, logistic: LogisticRegression
) -> None:
    root = tmp_path / "r"
    with ModelRegistry(root, store=store) as reg:
        for _ in range(3):
            reg.save_model(logistic, model_name="iris")
    backup = tmp_path / "backup"
    backup.mkdir()
    metadata = ["registry.db"] if store == "sqlite" else ["index.journal"]
    for name in metadata:
        shutil.copy2(root / name, backup / name)
    with ModelRegistry(root) as reg:
        for _ in range(7):
            reg.save_model(logistic, model_name="iris")
    for name in metadata:
        shutil.copy2(backup / name, root / name)
    files = _files(root)

    with ModelRegistry(root) as reg:
        assert len(reg.list_models()) == 3
        report = reg.verify()
        assert not report.ok
        assert sum(f.kind == "unrecorded" for f in report.findings) == 7
        assert reg.gc(dry_run=False, min_age_seconds=0) == []
    assert _files(root) == files
    rebuilt = recover(root)
    assert (len(rebuilt.recovered), rebuilt.already_recorded) == (7, 3)
    with ModelRegistry(root) as reg:
        assert [m.version for m in reg.list_models()] == [f"1.0.{i}" for i in range(10)]
        assert reg.verify().ok


def _legacy(root: Path) -> None:
    """Make a registry look like one saved before records and sidecars existed."""
    (root / MANIFEST_FILE).unlink()
    shutil.rmtree(root / SIDECAR_DIR)


def test_a_registry_without_record_or_sidecars_still_refuses_and_gc_refuses(
    tmp_path: Path, logistic: LogisticRegression
) -> None:
    root = tmp_path / "r"
    with ModelRegistry(root) as reg:
        for _ in range(20):
            reg.save_model(logistic, model_name="iris")
    shutil.copy2(root / "registry.db", tmp_path / "empty-backup.db")
    _legacy(root)
    (root / "registry.db").unlink()
    with pytest.raises(MetadataMissingError, match="model files remain"):
        ModelRegistry(root)
    assert not (root / "registry.db").exists()  # refused before creating an empty one

    # A metadata store that lost most versions (here: emptied) is not gc's to clean up.
    with ModelRegistry(tmp_path / "fresh") as fresh:
        fresh.save_model(logistic, model_name="other")
    shutil.copy2(tmp_path / "fresh" / "registry.db", root / "registry.db")
    files = _files(root)
    with ModelRegistry(root) as reg:
        assert len(reg.list_models()) == 1
        with pytest.raises(GcRefusedError, match="20 of the 20 files") as info:
            reg.gc(dry_run=False, min_age_seconds=0)
        assert len(info.value.keys) == 20
        assert _files(root) == files
        assert len(reg.gc(dry_run=False, min_age_seconds=0, force=True)) == 20
    assert _files(root) == []


def test_leftovers_of_failed_first_saves_do_not_look_like_lost_metadata(
    tmp_path: Path, logistic: LogisticRegression
) -> None:
    """A save killed before its record commits leaves a file without a sidecar."""
    root = tmp_path / "r"

    def partial_save(stream: IO[bytes]) -> None:
        stream.write(b"partial save")

    with ModelRegistry(root) as reg:
        reg.storage.put("iris/leftover.joblib", partial_save)
    with ModelRegistry(root) as reg:
        assert reg.list_models() == []
        assert [f.kind for f in reg.verify().findings] == ["orphan"]
        assert reg.gc(dry_run=False, min_age_seconds=0) == ["iris/leftover.joblib"]
    with ModelRegistry(root) as reg:
        reg.save_model(logistic, model_name="iris")
        assert reg.verify().findings == ()


def test_sidecars_follow_every_change(tmp_path: Path, logistic: LogisticRegression) -> None:
    from modelshelf.manifest import iter_sidecars, read_sidecar

    root = tmp_path / "r"
    with ModelRegistry(root) as reg:
        first = reg.save_model(logistic, model_name="iris")
        second = reg.save_model(logistic, model_name="iris")
        reg.transition_stage("iris", "1.0.0", "Production")
        reg.transition_stage("iris", "1.0.1", "Production")  # archives 1.0.0
        reg.set_alias("iris:1.0.0", "champion")
        reg.set_alias("iris:1.0.1", "champion")  # moves off 1.0.0
        reg.update_model(second, description="the good one", tags={"team": "fraud"})
        on_disk = {m.model_id: m for m in (read_sidecar(p) for _, p in iter_sidecars(root))}
        assert on_disk == {m.model_id: m for m in reg.list_models()}
        assert on_disk[first].stage is Stage.ARCHIVED and on_disk[first].aliases == ()
        reg.delete_model(first)
        assert [read_sidecar(p).model_id for _, p in iter_sidecars(root)] == [second]


def test_damage_inside_the_database_is_found_by_verify_and_recovered(
    tmp_path: Path, logistics: list[LogisticRegression]
) -> None:
    root = tmp_path / "r"
    expected = _populate(root, "sqlite", logistics)
    files = _files(root)
    path = root / "registry.db"
    with open(path, "r+b") as handle:  # a page in the middle, header intact
        handle.seek(path.stat().st_size // 2 // 4096 * 4096)
        handle.write(random.Random(3).randbytes(4096))
    try:
        with ModelRegistry(root) as reg:
            report = reg.verify()
            assert not report.ok
            assert "metadata" in {f.kind for f in report.findings}
            assert reg.gc(dry_run=False, min_age_seconds=0) == []
    except MetadataMissingError:
        pass  # the damage hit pages that opening or reading needs: refused as lost
    assert _files(root) == files
    rebuilt = recover(root)
    assert len(rebuilt.set_aside) == 1
    with ModelRegistry(root) as reg:
        assert _state(reg) == expected
        assert reg.verify().findings == ()


def test_a_transferred_registry_can_be_recovered(
    tmp_path: Path, logistic: LogisticRegression
) -> None:
    from modelshelf.transfer import transfer

    with ModelRegistry(tmp_path / "laptop") as laptop:
        for _ in range(3):
            laptop.save_model(logistic, model_name="iris", metrics={"f1": 0.9})
        laptop.transition_stage("iris", "1.0.1", "Production")
        laptop.set_alias("iris:1.0.2", "challenger")
        expected = _state(laptop)
        with ModelRegistry(tmp_path / "team", store="json") as team:
            transfer(laptop, team)
    (tmp_path / "team" / "index.journal").unlink()
    assert len(recover(tmp_path / "team").recovered) == 3
    with ModelRegistry(tmp_path / "team") as team:
        assert _state(team) == expected


def test_a_json_journal_outliving_its_snapshot_gives_back_its_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logistics: list[LogisticRegression]
) -> None:
    """A registry without sidecars: the journal still holds what came after the snapshot."""
    monkeypatch.setattr(json_store, "MIN_COMPACTION_LINES", 4)
    root = tmp_path / "r"
    with ModelRegistry(root, store="json") as reg:
        for i in range(6):  # folded after the 4th change; 5 and 6 only in the journal
            reg.save_model(logistics[i], model_name="iris")
        reg.transition_stage("iris", "1.0.5", "Production")
    _legacy(root)
    (root / "index.json").unlink()
    with pytest.raises(MetadataMissingError, match=r"index\.json is missing"):
        ModelRegistry(root)
    report = recover(root)
    assert report.recovered == ("iris:1.0.4", "iris:1.0.5")
    assert len(report.unrecoverable) == 4  # folded into the lost snapshot, no sidecar
    with ModelRegistry(root) as reg:
        assert reg.get_production_model("iris").version == "1.0.5"  # type: ignore[union-attr]
        assert reg.load("iris:1.0.4").model.C == logistics[4].C
        assert reg.load("iris:1.0.5").model.C == logistics[5].C
