"""Seconds per patient for a DICOM CT series with a DICOM SEG mask: reading, SEG rasterisation, CTPreprocessor.

The series is 512 x 512 x 96 (0.78125 mm pixels, 2.5 mm slices), built from the real HCC-TACE-Seg slice
in ``tests/data/dicom`` (``tests/dicom_archive.py``: one real header per file, pixels from the real slice,
slice k offset by k HU, shuffled file names), with a four-segment SEG as HCC-TACE-Seg's (Liver, Mass,
Portal vein, Abdominal aorta; empty frames omitted). Timed, each ``--repeats`` times (median reported,
after one warm-up call that also loads the libraries):

- ``series headers + read``: :func:`~sksurv_tace.preprocessing.read_image` of the folder, headers
  checked (positions, spacing, acquisitions) then pixels read by SimpleITK;
- ``SEG -> CT grid``: :func:`~sksurv_tace.preprocessing.read_dicom_seg` of segment ``Mass`` onto the CT;
- ``pre-flight``: :func:`~sksurv_tace.preprocessing.check_image_paths` with ``segment="Mass"`` (memo cleared);
- ``CTPreprocessor``: ``CTPreprocessor(segment="Mass").transform`` of the patient, no cache (reads the
  series and the SEG, crops, windows, resizes to 224 px).

Run from the repository root (the smallest pre-specified size is the default)::

    .venv/bin/python benchmarks/perf_dicom_seg.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dicom_archive import real_ct_volume, sphere, write_ct_series, write_seg  # noqa: E402

SPACING = (0.78125, 0.78125, 2.5)
ORIGIN = (-200.0, -200.0, -120.0)


def _build(folder: Path, n_slices: int):
    volume = real_ct_volume(n_slices, 512)
    shape = volume.shape
    centre_z = ORIGIN[2] + SPACING[2] * n_slices / 2
    segments = {
        "Liver": sphere(shape, (-60.0, 0.0, centre_z), 80.0, spacing=SPACING, origin=ORIGIN),
        "Mass": sphere(shape, (-50.0, 10.0, centre_z), 25.0, spacing=SPACING, origin=ORIGIN),
        "Portal vein": sphere(shape, (-20.0, 20.0, centre_z), 8.0, spacing=SPACING, origin=ORIGIN),
        "Abdominal aorta": sphere(shape, (10.0, 40.0, centre_z), 12.0, spacing=SPACING, origin=ORIGIN),
    }
    volume = np.where(segments["Mass"], 90, volume).astype(np.int16)
    ct = write_ct_series(folder / "ct", volume, spacing=SPACING, origin=ORIGIN, shuffle_names=True)
    write_seg(folder / "seg.dcm", ct, segments, omit_empty_frames=True)
    return folder / "ct", folder / "seg.dcm", int(segments["Mass"].sum())


def _clear_memos():
    from sksurv_tace.preprocessing import dicom, image_checks

    dicom._MEMO.clear()
    image_checks._MEMO.clear()


def _time(function, repeats: int) -> tuple[float, list[float]]:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        _clear_memos()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=96, help="slices of the series (default: 96)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per case (default: 3)")
    args = parser.parse_args(argv)

    import SimpleITK as sitk

    from sksurv_tace.preprocessing import CTPreprocessor, check_image_paths, read_dicom_seg, read_image

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ct, seg, mass_voxels = _build(Path(tmp), args.slices)
        built = time.perf_counter() - start
        size_mb = sum(f.stat().st_size for f in ct.iterdir()) / 1e6
        X = pd.DataFrame({"patient_id": ["P1"], "ct": [str(ct)], "mask": [str(seg)]})
        image = read_image(ct)
        mask = read_dicom_seg(seg, image, segment="Mass")
        assert int(sitk.GetArrayViewFromImage(mask).sum()) == mass_voxels  # the SEG comes back voxel for voxel
        cases = {
            "series headers + read": lambda: read_image(ct),
            "SEG -> CT grid (segment Mass)": lambda: read_dicom_seg(seg, image, segment="Mass"),
            "pre-flight check_image_paths": lambda: check_image_paths(X, segment="Mass"),
            "CTPreprocessor.transform (224 px, no cache)": lambda: CTPreprocessor(segment="Mass").transform(X),
        }
        print(
            f"series {image.GetSize()} ({size_mb:.0f} MB, {args.slices} files), SEG {seg.stat().st_size / 1e6:.1f} "
            f"MB; built in {built:.1f} s; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(f"{'case':48s} median s   all runs (s)")
        for name, function in cases.items():
            median, times = _time(function, args.repeats)
            print(f"{name:48s} {median:8.2f}   {', '.join(f'{t:.2f}' for t in times)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
