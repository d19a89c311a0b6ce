"""Processing benchmark (issue P6): our processed asset against eopf's runner on the same payload.

The payload is the shipped terrain correction (gtc) of the real S1 GRDH product, converted once beforehand. The
direct side runs ``eopf trigger local`` on it with the product and the DEM already in place as local copies;
ours materializes ``processed_s1_terrain_correction`` on an instance that exists beforehand: ADF search in the
catalog, input checks, local copies fetched from S3, the same runner, the output uploaded, publication.
Two DEMs: sarsen's Rome DEM (360 x 360, a seconds-long run where fixed costs weigh most) and a synthetic
1 arc-second DEM of ``--dem-degrees`` inside the product's footprint (a run of realistic weight). Both sides
start a fresh interpreter for the runner, so eopf's import is in both timings.
Targets: wall time and peak RSS < 1.1x.
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import report, run_child


def middle(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def synthetic_dem(path: Path, degrees: float) -> Path:
    """Smooth terrain at 1 arc-second (about 30 m) from 12.8 E, 42.0 N, inside the GRD sample's footprint."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    step = 1 / 3600
    n = round(degrees / step)
    rows, cols = np.mgrid[0:n, 0:n].astype("float32")
    height = 120 + 80 * np.sin(cols / 97.0) * np.cos(rows / 131.0) + 0.01 * cols
    profile = {
        "driver": "GTiff",
        "width": n,
        "height": n,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": from_origin(12.8, 42.0, step, step),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as out:
        out.write(height, 1)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dem-degrees", type=float, default=0.3)
    args = parser.parse_args()
    from rs_assets.simulator.samples import rome_dem

    zarr = Path(run_child("benchmarks.processing_child", "convert", "--workdir", str(args.workdir))["zarr"])
    dems = {
        "Rome DEM, 360 x 360": rome_dem(),
        f"synthetic DEM {args.dem_degrees} deg, 1 arcsec": synthetic_dem(
            args.workdir / "synthetic_dem.tif", args.dem_degrees
        ),
    }
    lines = [
        f"# processing benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores",
        f"# command: benchmarks/run processing --repeat {args.repeat} --dem-degrees {args.dem_degrees}",
        f"# payload: s1_terrain_correction (gtc) on {zarr.name}; median of {args.repeat} interleaved runs each",
    ]
    common = ["--zarr", str(zarr), "--workdir", str(args.workdir)]
    for label, dem in dems.items():
        directs, ours = [], []
        for _ in range(args.repeat):
            directs.append(run_child("benchmarks.processing_child", "direct", "--dem", str(dem), *common))
            ours.append(
                run_child(
                    "benchmarks.processing_child",
                    "asset",
                    "--dem",
                    str(dem),
                    "--s3-endpoint",
                    args.s3_endpoint,
                    *common,
                )
            )
        assert all(o["processed"] == 1 for o in ours), ours
        direct_s, ours_s = middle([d["seconds"] for d in directs]), middle([o["seconds"] for o in ours])
        direct_rss = middle([d["runner_rss_mib"] for d in directs])
        runner_rss = middle([o["runner_rss_mib"] for o in ours])
        orchestrator_rss = middle([o["rss_mib"] for o in ours])
        median_run = sorted(ours, key=lambda o: o["seconds"])[len(ours) // 2]
        lines += [
            f"{label}:",
            f"  eopf trigger local, local copies           : {direct_s:6.2f} s, peak RSS {direct_rss:6.0f} MiB",
            f"  processed asset (catalog, S3 in and out)   : {ours_s:6.2f} s, peak RSS {runner_rss:6.0f} MiB"
            f" (runner process; the Dagster run process itself {orchestrator_rss:.0f} MiB)",
            f"  ratio wall time                            : {ours_s / direct_s:6.2f}  (target < 1.1)",
            f"  ratio peak RSS (runner processes)          : {runner_rss / direct_rss:6.2f}  (target < 1.1)",
            f"  inside the asset (median run): ADF lookup {median_run['adfs']:.2f} s, run {median_run['run']:.2f} s"
            f" (its inputs fetched in the first {median_run['fetch']:.2f} s, while the runner starts), upload "
            f"{median_run['upload']:.2f} s, publication {median_run['publish']:.2f} s; added over direct "
            f"{ours_s - direct_s:+.2f} s",
            f"  runs (s): direct {[round(d['seconds'], 2) for d in directs]}, ours {[round(o['seconds'], 2) for o in ours]}",
        ]
    report("processing", lines)


if __name__ == "__main__":
    main()
