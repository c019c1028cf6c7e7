"""Big models: save and cold load beside the disk's own throughput, peak memory."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from harness import (
    MIB,
    Figure,
    fsync_dir,
    median,
    peak_rss_bytes,
    run_child,
)


def big_model(total_bytes: int) -> dict[str, Any]:
    import numpy as np

    parts = 8
    each = total_bytes // parts // 8
    return {f"layer{i}": np.full(each, float(i), dtype=np.float64) for i in range(parts)}


def drop_cache(path: Path) -> None:
    """Evict one file's clean pages so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def child_large(kind: str, path: str, size: str) -> dict[str, Any]:
    target = Path(path)
    if kind == "raw-write":
        model = big_model(int(size))
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with open(target, "wb") as handle:
            for array in model.values():
                handle.write(memoryview(array).cast("B"))
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(target.parent)
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "bytes": target.stat().st_size, "peak": peak_rss_bytes()}
    if kind == "raw-read":
        drop_cache(target)
        buffer = bytearray(16 * MIB)
        total = 0
        start = time.perf_counter()
        with open(target, "rb", buffering=0) as handle:
            while n := handle.readinto(buffer):
                total += n
        return {"seconds": time.perf_counter() - start, "bytes": total, "peak": peak_rss_bytes()}

    from modelshelf import ModelRegistry

    registry = ModelRegistry(target)
    if kind == "save":
        model = big_model(int(size))
        start = time.perf_counter()
        model_id = registry.save_model(model, "large")
        seconds = time.perf_counter() - start
        metadata = registry.get_metadata(model_id)
        return {
            "seconds": seconds,
            "bytes": metadata.artifact.size,
            "model_bytes": sum(a.nbytes for a in model.values()),
            "peak": peak_rss_bytes(),
            "model_id": model_id,
        }
    metadata = registry.get_metadata(model_name="large")
    artifact = registry.storage.local_path(metadata.artifact.key)
    assert artifact is not None
    drop_cache(artifact)
    mmap_mode = "r" if kind == "load-mmap" else None
    start = time.perf_counter()
    loaded = registry.load(metadata.model_id, mmap_mode=mmap_mode).model
    if mmap_mode is not None:
        for array in loaded.values():
            array.sum()  # mapped pages are read when touched: touch them all
    seconds = time.perf_counter() - start
    assert loaded is not None
    return {
        "seconds": seconds,
        "bytes": metadata.artifact.size,
        "model_bytes": sum(a.nbytes for a in loaded.values()),
        "peak": peak_rss_bytes(),
    }


def bench_large(work: Path, quick: bool) -> list[Figure]:
    size = 64 * MIB if quick else 1024 * MIB
    repeat = 1 if quick else 3
    raw_w, ours_w, raw_r, ours_r, mapped_r = [], [], [], [], []
    save_peak, load_peak, mapped_peak, model_bytes = [], [], [], 0
    for i in range(repeat):
        raw_path = work / f"raw-{i}" / "model.bin"
        ours_path = work / f"ours-{i}"
        w = run_child("large", "raw-write", str(raw_path), str(size))
        s = run_child("large", "save", str(ours_path), str(size))
        r = run_child("large", "raw-read", str(raw_path), str(size))
        ld = run_child("large", "load", str(ours_path), str(size))
        mp = run_child("large", "load-mmap", str(ours_path), str(size))
        mapped_r.append(mp["bytes"] / mp["seconds"] / MIB)
        mapped_peak.append(mp["peak"] / MIB)
        raw_w.append(w["bytes"] / w["seconds"] / MIB)
        ours_w.append(s["bytes"] / s["seconds"] / MIB)
        raw_r.append(r["bytes"] / r["seconds"] / MIB)
        ours_r.append(ld["bytes"] / ld["seconds"] / MIB)
        model_bytes = s["model_bytes"]
        save_peak.append(s["peak"] / MIB)
        load_peak.append(ld["peak"] / MIB)
        shutil.rmtree(raw_path.parent)
        shutil.rmtree(ours_path)
    label = f"{model_bytes / MIB:,.0f} MiB"
    return [
        Figure(
            "large",
            f"large model save throughput ({label})",
            "MiB/s",
            median(ours_w),
            median(raw_w),
            "raw write+fsync",
            target="ratio >= 0.7",
            samples=repeat,
        ),
        Figure(
            "large",
            f"large model load throughput ({label}, cold cache)",
            "MiB/s",
            median(ours_r),
            median(raw_r),
            "raw sequential read",
            target="ratio >= 0.7",
            samples=repeat,
        ),
        Figure(
            "large",
            f"large model load, mmap_mode='r' ({label}, cold cache)",
            "MiB/s",
            median(mapped_r),
            median(raw_r),
            "raw sequential read",
            target="ratio >= 0.7",
            samples=repeat,
            note="verified private copy, then mapped; every page touched; "
            f"peak memory {median(mapped_peak):,.0f} MiB",
        ),
        Figure(
            "large",
            "large model save: peak memory",
            "MiB",
            median(save_peak),
            model_bytes / MIB,
            "model size",
            target="ratio <= 1.3",
            samples=repeat,
        ),
        Figure(
            "large",
            "large model load: peak memory",
            "MiB",
            median(load_peak),
            model_bytes / MIB,
            "model size",
            target="ratio <= 1.3",
            samples=repeat,
        ),
    ]
