"""Synthetic abdominal CT volumes in Hounsfield units with liver tumours and a tumour mask.

The tumour's appearance carries a latent phenotype ``z`` (standard normal) in one of the
families of :data:`PHENOTYPE_FAMILIES` (``p = Φ(z)`` below; every number here was fixed before
any model was run on the family, see :func:`~sksurv_tace.datasets.make_tace_cohort`):

* ``"texture"`` (the original generator): higher ``z`` gives a more heterogeneous texture (HU
  SD inside the tumour ``6 + 34 p``), a larger necrotic core and a more irregular margin. The
  viable tumour's mean attenuation is independent of ``z``.
* ``"spatial"``: the tumour's HU values are one multiset drawn independently of ``z`` (necrosis
  N(15, 6), viable N(50, 8) and arterially enhancing N(100, 12) HU, shares U(0.10, 0.35) and
  U(0.25, 0.45) of necrosis and enhancement); ``z`` only decides *where* each value goes
  (:func:`_arrange_spatially`): voxels are ranked by a placement score ``2 p·radial + 1.5
  p·mosaic + 1·diffuse`` (each term standardised inside the mask) and the sorted values are laid
  on that ranking. ``radial``: distance from a necrosis centre set off from the lesion's centre
  by ``0.6 (1 - p)`` of its radius (high ``z``: central necrosis with rim enhancement; low
  ``z``: eccentric necrosis); ``mosaic``: six Voronoi compartments with random levels;
  ``diffuse``: a smooth random field (σ 3 mm, diffuse patchy enhancement). Scanner noise is
  i.i.d., so every first-order statistic inside the mask is independent of ``z`` by construction.
* ``"peritumoral"``: the tumour inside the mask is drawn as in ``"texture"`` but from a nuisance
  phenotype independent of ``z``; ``z`` acts only outside the mask, in the liver
  (:func:`_peritumoral_signal`): an enhancing capsule (90 HU, the first voxel layer) with gaps over a
  share ``0.1 + 0.6 p`` of it; an infiltrative margin (tumour-like 45 HU fingers reaching
  ``(1 + 8 p)·max(0, h)`` mm, ``h`` a random angular field in [-1, 1]); a peritumoural
  arterial-enhancement wedge (+30 HU fading to 0 at ``5 + 15 p`` mm, half-angle ``20 + 50 p``
  degrees); Poisson(``4 p``) unsegmented satellite nodules (radius 1.5–3 mm, 45 HU, 4–15 mm
  from the margin).
* ``"mixed"``: ``"spatial"`` inside the mask driven by one latent and ``"peritumoral"``
  outside driven by a second, independent one.
* ``"none"``: rendered as ``"texture"``; the cohort gives the latent no effect on survival.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import ndtr

AIR, FAT, SOFT_TISSUE, LIVER, VESSEL, BONE, NECROSIS = -1000.0, -100.0, 40.0, 60.0, 160.0, 450.0, 10.0

#: The image phenotype families of :func:`render_ct` and :func:`~sksurv_tace.datasets.make_tace_cohort`.
PHENOTYPE_FAMILIES = ("texture", "spatial", "peritumoral", "mixed", "none")

# "spatial": (mean HU, SD HU) of the value classes, darkest first; shares of necrosis and enhancement
_SPATIAL_CLASSES = ((15.0, 6.0), (50.0, 8.0), (100.0, 12.0))
_SPATIAL_SHARES = ((0.10, 0.35), (0.25, 0.45))
_SPATIAL_WEIGHTS = {"radial": 2.0, "mosaic": 1.5, "diffuse": 1.0}
_TUMOUR_LIKE, _CAPSULE = 45.0, 90.0


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
    family: str = "texture",
    nuisance: float = 0.0,
    second_phenotype: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one CT volume and its tumour mask.

    Parameters
    ----------
    rng : numpy Generator
    shape : (n_slices, n_rows, n_cols)
    spacing : (slice, row, column) spacing in mm
    tumor_diameters_mm : diameters of the tumours, the first the largest
    phenotype : latent tumour phenotype ``z`` (``"mixed"``: the spatial one)
    family : one of :data:`PHENOTYPE_FAMILIES`; ``"texture"`` and ``"none"`` draw the same volume
    nuisance : latent drawing the tumour's texture, necrosis and margin in ``"spatial"``,
        ``"peritumoral"`` and ``"mixed"`` (independent of ``z``)
    second_phenotype : ``"mixed"``: the peritumoural latent

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

    traits = phantom_phenotype(phenotype if family in ("texture", "none") else nuisance)
    lesions = []  # (centre, radii) in mm of each tumour, for the spatial and peritumoural families
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
        lesions.append(((cz, cy, cx), (rz, radius, radius)))

    # heterogeneous tumour texture: smoothed noise whose amplitude follows the phenotype
    if mask.any():
        box = ndimage.find_objects(mask.astype(np.uint8))[0]
        texture = ndimage.gaussian_filter(rng.standard_normal(ct[box].shape).astype(np.float32), sigma=(0.8, 1.2, 1.2))
        inside = mask[box]
        texture *= traits["texture_sd"] / max(float(texture[inside].std()), 1e-6)
        ct[box][inside] += texture[inside]
    axes = (z_mm, y_mm, x_mm)
    if family in ("spatial", "mixed") and mask.any():
        _arrange_spatially(rng, ct, mask, phenotype, axes, lesions)
    if family in ("peritumoral", "mixed") and mask.any():
        z_peri = second_phenotype if family == "mixed" else phenotype
        # its own generator: how many draws it takes depends on z, and the scanner noise must not
        signal_rng = np.random.default_rng(rng.integers(0, 2**63 - 1))
        _peritumoral_signal(signal_rng, ct, mask, np.broadcast_to(liver, shape), z_peri, axes, spacing, lesions[0])
    ct += rng.normal(0.0, 8.0, size=shape).astype(np.float32)  # scanner noise
    outside = ~body3d
    ct[outside] = AIR + rng.normal(0.0, 3.0, size=int(outside.sum())).astype(np.float32)
    return np.clip(np.rint(ct), -1024, 3071).astype(np.int16), mask.astype(np.uint8)


def _standardised(values: np.ndarray) -> np.ndarray:
    sd = float(values.std())
    return (values - values.mean()) / sd if sd > 0 else np.zeros_like(values)


def _box_coordinates(axes, box) -> list[np.ndarray]:
    return np.meshgrid(*(axis[b] for axis, b in zip(axes, box, strict=True)), indexing="ij")


def _arrange_spatially(rng, ct, mask, z, axes, lesions) -> None:
    """``"spatial"``: lay one ``z``-independent multiset of HU values on the mask, placed by ``z`` (in place)."""
    p = float(ndtr(z))
    box = ndimage.find_objects(mask.astype(np.uint8))[0]
    inside = mask[box]
    n = int(inside.sum())
    points = np.stack([c[inside] for c in _box_coordinates(axes, box)], axis=1)  # (n, 3) in mm
    radial = np.full(n, np.inf)
    for centre, radii in lesions:  # distance from each lesion's necrosis centre, in its radii; nearest lesion
        direction = rng.standard_normal(3)
        direction /= max(float(np.linalg.norm(direction)), 1e-12)
        offset = 0.6 * (1.0 - p) * direction * np.asarray(radii)
        radial = np.minimum(radial, np.sqrt((((points - np.asarray(centre) - offset) / radii) ** 2).sum(axis=1)))
    seeds = points[rng.choice(n, size=min(6, n), replace=False)]
    compartment = ((points[:, None, :] - seeds[None]) ** 2).sum(axis=2).argmin(axis=1)
    mosaic = rng.standard_normal(len(seeds))[compartment]
    spacing = np.array([abs(float(a[1] - a[0])) if len(a) > 1 else 1.0 for a in axes])
    diffuse = ndimage.gaussian_filter(rng.standard_normal(inside.shape), sigma=3.0 / spacing)[inside]
    w = _SPATIAL_WEIGHTS
    score = w["radial"] * p * _standardised(radial) + w["mosaic"] * p * _standardised(mosaic)
    score = score + w["diffuse"] * _standardised(diffuse)
    shares = [rng.uniform(*bounds) for bounds in _SPATIAL_SHARES]
    counts = [int(round(shares[0] * n)), 0, int(round(shares[1] * n))]
    counts[1] = n - counts[0] - counts[2]
    values = np.concatenate([rng.normal(m, s, size=k) for (m, s), k in zip(_SPATIAL_CLASSES, counts, strict=True)])
    arranged = np.empty(n, dtype=np.float32)
    arranged[np.argsort(score, kind="stable")] = values  # darkest class on the lowest scores
    ct[box][inside] = arranged


def _peritumoral_signal(rng, ct, mask, liver, z, axes, spacing, lesion) -> None:
    """``"peritumoral"``: capsule gaps, infiltrative margin, enhancement wedge and satellites outside the mask."""
    p = float(ndtr(z))
    centre, radii = lesion
    box = tuple(
        slice(int(np.searchsorted(axis, c - 1.5 * r - 20.0)), int(np.searchsorted(axis, c + 1.5 * r + 20.0, "right")))
        for axis, c, r in zip(axes, centre, radii, strict=True)
    )
    region, tumour = ct[box], mask[box]
    outside = ~tumour & liver[box]
    if not outside.any() or not tumour.any():
        return
    dist = ndimage.distance_transform_edt(~tumour, sampling=spacing)  # mm to the nearest tumour voxel
    bz, by, bx = (c - centre[k] for k, c in enumerate(_box_coordinates(axes, box)))
    theta, phi = np.arctan2(by, bx), np.arctan2(bz, np.hypot(by, bx))

    def angular(orders):
        field = sum(np.cos(k * theta + rng.uniform(0, 2 * np.pi)) * np.cos(2 * phi + rng.uniform(0, 2 * np.pi))
                    for k in orders)  # fmt: skip
        return field / len(orders)

    capsule = outside & (dist > 0) & (dist <= 1.5 * min(spacing))
    gaps = angular((2, 3, 5))
    if capsule.any():
        kept = capsule & (gaps > np.quantile(gaps[capsule], 0.1 + 0.6 * p))
        region[kept] = _CAPSULE
    fingers = angular((7, 11))
    region[outside & (dist > 0) & (dist <= (1.0 + 8.0 * p) * np.maximum(fingers, 0.0))] = _TUMOUR_LIKE
    reach, half_angle = 5.0 + 15.0 * p, np.deg2rad(20.0 + 50.0 * p)
    off_axis = np.abs(np.angle(np.exp(1j * (theta - rng.uniform(0, 2 * np.pi)))))
    wedge = outside & (dist > 0) & (dist <= reach) & (off_axis <= half_angle)
    region[wedge] += 30.0 * (1.0 - dist[wedge] / reach)
    candidates = np.flatnonzero(outside & (dist >= 4.0) & (dist <= 15.0))
    coordinates = (bz, by, bx)
    for _ in range(rng.poisson(4.0 * p) if candidates.size else 0):
        at = np.unravel_index(candidates[rng.integers(candidates.size)], tumour.shape)
        radius = rng.uniform(1.5, 3.0)
        near = sum((c - c[at]) ** 2 for c in coordinates) <= radius**2
        region[near & outside] = _TUMOUR_LIKE + rng.normal(0.0, 5.0)


#: Portal-venous phase of :func:`portal_phase`: HU added to the non-tumour tissue of 0..150 HU (parenchymal
#: enhancement) and to the tumour (washout, relative to the liver), the new grid's spacing as a multiple of the
#: arterial one ((slice, row, column)), and the largest patient motion between the phases (mm, each axis).
PORTAL_ENHANCEMENT, PORTAL_WASHOUT, PORTAL_SPACING_FACTOR, PORTAL_MOTION_MM = 30.0, -20.0, (0.8, 1.2, 1.2), 2.0


def portal_phase(rng: np.random.Generator, ct: np.ndarray, mask: np.ndarray, spacing: tuple[float, float, float]):
    """A portal-venous phase of an arterial volume of :func:`render_ct`, on another grid, as a SimpleITK image.

    The liver and soft tissue (non-tumour voxels of 0 to 150 HU) gain :data:`PORTAL_ENHANCEMENT` HU, the
    tumour :data:`PORTAL_WASHOUT` (HCC washout); the anatomy moves by a translation ~ U(-2, 2) mm per axis
    (breathing between the acquisitions); the volume is sampled by linear interpolation on a grid of
    ``spacing * PORTAL_SPACING_FACTOR`` covering the arterial field of view, its origin set off by up to one
    voxel; then new scanner noise N(0, 8) HU. The arterial volume's origin is ``(0, 0, 0)``.
    """
    import SimpleITK as sitk

    enhanced = ct.astype(np.float32)
    tissue = ~mask.astype(bool) & (enhanced >= 0.0) & (enhanced <= 150.0)
    enhanced[tissue] += PORTAL_ENHANCEMENT
    enhanced[mask.astype(bool)] += PORTAL_WASHOUT
    arterial = sitk.GetImageFromArray(enhanced)
    arterial.SetSpacing(tuple(float(s) for s in spacing[::-1]))
    motion = rng.uniform(-PORTAL_MOTION_MM, PORTAL_MOTION_MM, size=3)
    new_spacing = np.asarray(spacing, dtype=float) * np.asarray(PORTAL_SPACING_FACTOR)  # (z, y, x)
    extent = np.asarray(ct.shape) * np.asarray(spacing, dtype=float)
    size = np.maximum(np.round(extent / new_spacing).astype(int), 2)
    origin = rng.uniform(0.0, 1.0, size=3) * new_spacing - np.asarray(spacing, dtype=float) / 2.0
    transform = sitk.TranslationTransform(3, (-motion).tolist())  # output point p shows the anatomy at p - motion
    portal = sitk.Resample(arterial, [int(v) for v in size[::-1]], transform, sitk.sitkLinear,
                           tuple(origin[::-1].tolist()), tuple(new_spacing[::-1].tolist()),
                           (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0), AIR, sitk.sitkFloat32)  # fmt: skip
    array = sitk.GetArrayFromImage(portal) + rng.normal(0.0, 8.0, size=tuple(size)).astype(np.float32)
    out = sitk.GetImageFromArray(np.clip(np.rint(array), -1024, 3071).astype(np.int16))
    out.CopyInformation(portal)
    return out
