"""Synthetic abdominal CT volumes in Hounsfield units with liver tumours and a tumour mask.

The tumour's appearance carries a latent phenotype ``z`` (standard normal): higher
``z`` gives a more heterogeneous texture, a larger necrotic core and a more
irregular, infiltrative margin. The viable tumour's mean attenuation is drawn
independently of ``z``, so the phenotype is not readable from mean intensity alone.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import ndtr

AIR, FAT, SOFT_TISSUE, LIVER, VESSEL, BONE, NECROSIS = -1000.0, -100.0, 40.0, 60.0, 160.0, 450.0, 10.0


def _ellipse(yy, xx, cy, cx, ry, rx):
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def phantom_phenotype(z: float) -> dict[str, float]:
    """Map the latent phenotype to the tumour's visible traits (all increase with ``z``)."""
    p = float(ndtr(z))
    return {
        "texture_sd": 6.0 + 34.0 * p,  # HU, spatially correlated heterogeneity
        "necrosis_fraction": 0.65 * float(ndtr(1.5 * (z - 0.3))),  # radius of the necrotic core / tumour radius
        "margin_irregularity": 0.04 + 0.40 * p,  # relative amplitude of radial lobulation
    }


def render_ct(
    rng: np.random.Generator,
    *,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    tumor_diameters_mm: list[float],
    phenotype: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one CT volume and its tumour mask.

    Parameters
    ----------
    rng : numpy Generator
    shape : (n_slices, n_rows, n_cols)
    spacing : (slice, row, column) spacing in mm
    tumor_diameters_mm : diameters of the tumours, the first the largest
    phenotype : latent tumour phenotype ``z``

    Returns
    -------
    ct : int16 ndarray of HU, shape ``shape``
    mask : uint8 ndarray, 1 inside any tumour
    """
    nz, ny, nx = shape
    sz, sy, sx = spacing
    z_mm = ((np.arange(nz) - nz / 2 + 0.5) * sz).astype(np.float32)
    y_mm = ((np.arange(ny) - ny / 2 + 0.5) * sy).astype(np.float32)
    x_mm = ((np.arange(nx) - nx / 2 + 0.5) * sx).astype(np.float32)
    yy, xx = np.meshgrid(y_mm, x_mm, indexing="ij")  # anatomy is the same on every slice: draw it in 2-D
    half_y, half_x = ny * sy / 2, nx * sx / 2
    plane = np.full((ny, nx), AIR, dtype=np.float32)
    body = _ellipse(yy, xx, 0, 0, 0.80 * half_y, 0.95 * half_x)
    plane[body] = FAT
    plane[_ellipse(yy, xx, 0, 0, 0.72 * half_y, 0.87 * half_x)] = SOFT_TISSUE
    # liver: patient's right = image left, large ellipse
    liver_c = (-0.05 * half_y, -0.38 * half_x)
    liver_r = (0.55 * half_y, 0.48 * half_x)
    liver = _ellipse(yy, xx, *liver_c, *liver_r)
    plane[liver] = LIVER
    plane[_ellipse(yy, xx, 0.50 * half_y, 0.0, 0.10 * half_y, 0.10 * half_x)] = BONE  # vertebra
    plane[_ellipse(yy, xx, 0.28 * half_y, 0.10 * half_x, 0.07 * half_y, 0.07 * half_x)] = VESSEL  # aorta
    for _ in range(3):  # portal-vein branches: tubes through the liver along z
        vy = liver_c[0] + rng.uniform(-0.5, 0.5) * liver_r[0]
        vx = liver_c[1] + rng.uniform(-0.5, 0.5) * liver_r[1]
        plane[_ellipse(yy, xx, vy, vx, 4.0, 4.0) & liver] = VESSEL
    ct = np.broadcast_to(plane, shape).copy()
    body3d = np.broadcast_to(body, shape)

    traits = phantom_phenotype(phenotype)
    mask = np.zeros(shape, dtype=bool)
    radius_limit = 0.9 * min(liver_r)
    for k, diameter in enumerate(tumor_diameters_mm):
        radius = min(diameter / 2.0, radius_limit)
        # tumour centre inside the liver, so that the tumour stays mostly in the liver
        slack_y, slack_x = max(liver_r[0] - radius, 0), max(liver_r[1] - radius, 0)
        cy = liver_c[0] + rng.uniform(-0.6, 0.6) * slack_y
        cx = liver_c[1] + rng.uniform(-0.6, 0.6) * slack_x
        cz = rng.uniform(-0.25, 0.25) * nz * sz if k == 0 else rng.uniform(-0.4, 0.4) * nz * sz
        rz = min(radius, 0.45 * nz * sz)
        # work in the tumour's bounding box (the lobulated margin reaches at most 1.5 radii)
        box = tuple(
            slice(int(np.searchsorted(axis, c - 1.5 * r)), int(np.searchsorted(axis, c + 1.5 * r, side="right")))
            for axis, c, r in ((z_mm, cz, rz), (y_mm, cy, radius), (x_mm, cx, radius))
        )
        bz, by, bx = np.meshgrid(z_mm[box[0]] - cz, y_mm[box[1]] - cy, x_mm[box[2]] - cx, indexing="ij")
        dist = np.sqrt((bz / rz) ** 2 + (by / radius) ** 2 + (bx / radius) ** 2)
        # irregular margin: radial lobulation from low-order harmonics in angle
        theta = np.arctan2(by, bx)
        phi = np.arctan2(bz, np.hypot(by, bx))
        wobble = np.zeros_like(dist)
        for order in (3, 5, 7):
            wobble += np.cos(order * theta + rng.uniform(0, 2 * np.pi)) * np.cos(2 * phi + rng.uniform(0, 2 * np.pi))
        wobble *= traits["margin_irregularity"] / 3.0 * 2.0
        tumour = (dist <= 1.0 + wobble) & body3d[box]
        if not tumour.any() and dist.size:  # tiny satellite on a coarse grid: keep its centre voxel
            tumour[np.unravel_index(np.argmin(dist), dist.shape)] = True
        necrosis = tumour & (dist <= traits["necrosis_fraction"])
        region = ct[box]
        region[tumour] = rng.normal(42.0, 6.0)  # viable tumour: mean attenuation independent of the phenotype
        region[necrosis] = NECROSIS + rng.normal(0, 3.0)
        mask[box] |= tumour

    # heterogeneous tumour texture: smoothed noise whose amplitude follows the phenotype
    if mask.any():
        box = ndimage.find_objects(mask.astype(np.uint8))[0]
        texture = ndimage.gaussian_filter(rng.standard_normal(ct[box].shape).astype(np.float32), sigma=(0.8, 1.2, 1.2))
        inside = mask[box]
        texture *= traits["texture_sd"] / max(float(texture[inside].std()), 1e-6)
        ct[box][inside] += texture[inside]
    ct += rng.normal(0.0, 8.0, size=shape).astype(np.float32)  # scanner noise
    outside = ~body3d
    ct[outside] = AIR + rng.normal(0.0, 3.0, size=int(outside.sum())).astype(np.float32)
    return np.clip(np.rint(ct), -1024, 3071).astype(np.int16), mask.astype(np.uint8)
