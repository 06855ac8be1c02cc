"""Cohorts: the built-in synthetic TACE cohort, a user's CSV manifest, and the real HCC-TACE-Seg table.

Every loader returns ``(X, y)``: ``X`` a pandas DataFrame with one row per patient
(clinical columns, and ``ct``/``mask`` paths when there are images), ``y`` a
structured array made by :func:`sksurv.util.Surv.from_arrays` with the event
indicator in field ``event`` and the survival time **in days** in field ``time``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sksurv.util import Surv

from sksurv_tace._validation import check_clinical_columns
from sksurv_tace.datasets._phantom import PHENOTYPE_FAMILIES
from sksurv_tace.datasets._schema import CLINICAL_COLUMNS
from sksurv_tace.datasets.manifest import _tidy_dtypes, write_manifest

__all__ = ["make_tace_cohort", "albi_score", "clinical_linear_predictor"]

# Quantile knots (probability, value) of the continuous factors: the paper's Table 1 medians and IQRs
# (both cohorts pooled), with plausible extremes. Drawn by inverse-CDF interpolation (log scale for labs).
_QUANTILES = {
    "age": ([0.0, 0.25, 0.5, 0.75, 1.0], [30.0, 57.0, 61.0, 70.0, 85.0], False),
    "afp": ([0.0, 0.25, 0.5, 0.75, 1.0], [1.0, 25.0, 140.0, 450.0, 60000.0], True),
    "ast": ([0.0, 0.25, 0.5, 0.75, 1.0], [10.0, 28.0, 64.0, 160.0, 900.0], True),
    "alt": ([0.0, 0.25, 0.5, 0.75, 1.0], [6.0, 27.0, 40.0, 60.0, 400.0], True),
    "alb": ([0.0, 0.25, 0.5, 0.75, 1.0], [22.0, 34.0, 37.9, 41.4, 52.0], False),
    "tbil": ([0.0, 0.25, 0.5, 0.75, 1.0], [4.0, 13.0, 20.2, 29.0, 120.0], True),
    "tumor_size": ([0.0, 0.25, 0.5, 0.75, 1.0], [10.0, 30.0, 47.0, 75.0, 150.0], True),
}


_DECIMALS = {"age": 0, "afp": 2, "ast": 0, "alt": 0, "alb": 1, "tbil": 1, "tumor_size": 0}


# Multivariable log hazard ratios of the paper's Table 2 (training cohort): MVI HR 1.42, ALBI 2-3 HR 1.89,
# BCLC-B subclass 2/3/4 HR 1.53/2.25/3.74 against B1. Table 2 prints treatment response as "0.04 (0.293-0.969)",
# a typo: the CI's geometric mean, HR 0.53, is used per step of the ordinal mRECIST response (PD < SD < PR < CR),
# relative to SD.
LOG_HAZARD_RATIOS = {
    "mvi": {"Yes": np.log(1.42)},
    "albi_grade": {"2-3": np.log(1.89)},
    "bclc_b_subclass": {"B2": np.log(1.53), "B3": np.log(2.25), "B4": np.log(3.74)},
    "response": {"CR": 2 * np.log(0.53), "PR": np.log(0.53), "PD": -np.log(0.53)},
}


IMAGE_LOG_HAZARD_RATIO = 1.35  # per SD of the latent tumour phenotype; gives an oracle C of ~0.80 at n=301


_WEIBULL_SHAPE = 1.15


_WEIBULL_SCALE_DAYS = 1100.0  # baseline scale giving a marginal median OS of ~2 years (benchmarks/cohort_oracles.py)


_ENROLMENT = (np.datetime64("2012-01-01"), np.datetime64("2015-12-31"))


_DATA_CUTOFF = np.datetime64("2022-01-01")


_LOSS_TO_FOLLOW_UP_PER_YEAR = 0.04


def _draw_quantiles(rng, n, probs, values, log):
    u = rng.uniform(size=n)
    v = np.log(values) if log else np.asarray(values)
    out = np.interp(u, probs, v)
    return np.exp(out) if log else out


def _choice(rng, n, levels, probs):
    return np.asarray(levels, dtype=object)[rng.choice(len(levels), size=n, p=probs)]


def albi_score(albumin_g_l, bilirubin_umol_l):
    """ALBI score of Johnson et al. (J Clin Oncol 2015): ``0.66 log10(bilirubin µmol/L) − 0.085 albumin g/L``.

    Examples
    --------
    >>> round(float(albi_score(40.0, 10.0)), 3)
    -2.74
    """
    return 0.66 * np.log10(bilirubin_umol_l) - 0.085 * np.asarray(albumin_g_l)


def _clinical_factors(rng, n):
    X = pd.DataFrame({"patient_id": [f"TACE{i + 1:04d}" for i in range(n)]})
    for name, (probs, values, log) in _QUANTILES.items():
        X[name] = np.round(_draw_quantiles(rng, n, probs, values, log), _DECIMALS[name])
    X["sex"] = _choice(rng, n, ["Male", "Female"], [0.757, 0.243])
    X["portal_hypertension"] = _choice(rng, n, ["No", "Yes"], [0.757, 0.243])
    X["diabetes"] = _choice(rng, n, ["No", "Yes"], [0.814, 0.186])
    X["cirrhosis"] = _choice(rng, n, ["No", "Yes"], [0.365, 0.635])
    X["hepatitis"] = _choice(rng, n, ["HBV", "No-HBV"], [0.89, 0.11])
    X["tumor_number"] = _choice(rng, n, ["<=2", ">2"], [0.578, 0.422])
    X["tumor_location"] = _choice(rng, n, ["Left", "Right", "Others"], [0.173, 0.661, 0.166])
    X["mvi"] = _choice(rng, n, ["No", "Yes"], [0.475, 0.525])
    X["albi_grade"] = np.where(albi_score(X["alb"], X["tbil"]) <= -2.60, "1", "2-3")
    # BCLC-B subclasses of Bolondi et al. (2012): B2 needs Child-Pugh A (5-6), B4 Child-Pugh B (8-9),
    # B3 Child-Pugh B7, B1 Child-Pugh 5-7. Child-Pugh B-C then totals ~29% as in Table 1.
    sub = _choice(rng, n, ["B1", "B2", "B3", "B4"], [0.395, 0.360, 0.130, 0.115])
    X["bclc_b_subclass"] = sub
    p_child_b = np.select([sub == "B1", sub == "B2", sub == "B3"], [0.18, 0.0, 0.80], default=1.0)
    X["child_pugh"] = np.where(rng.uniform(size=n) < p_child_b, "B-C", "A")
    X["response"] = _choice(rng, n, ["CR", "PR", "SD", "PD"], [0.15, 0.40, 0.30, 0.15])
    return X


def clinical_linear_predictor(X: pd.DataFrame) -> np.ndarray:
    """True clinical log hazard of the synthetic cohort's survival model (Table 2's multivariable column).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"mvi": ["Yes"], "albi_grade": ["1"], "bclc_b_subclass": ["B1"], "response": ["SD"]})
    >>> round(float(clinical_linear_predictor(X)[0]), 4)
    0.3507
    """
    check_clinical_columns(X, list(LOG_HAZARD_RATIOS))
    lp = np.zeros(len(X))
    for column, effects in LOG_HAZARD_RATIOS.items():
        values = X[column].astype(str).to_numpy()
        for level, beta in effects.items():
            lp += beta * (values == level)
    return lp


def _survival(rng, lp):
    n = len(lp)
    # Weibull proportional hazards: S(t | lp) = exp(-(t / scale)^shape * exp(lp - mean lp))
    centred = lp - lp.mean()
    death = _WEIBULL_SCALE_DAYS * (-np.log(rng.uniform(size=n)) / np.exp(centred)) ** (1.0 / _WEIBULL_SHAPE)
    enrol_span = int((_ENROLMENT[1] - _ENROLMENT[0]).astype(int))
    enrolment = _ENROLMENT[0] + rng.integers(0, enrol_span + 1, size=n).astype("timedelta64[D]")
    administrative = (_DATA_CUTOFF - enrolment).astype(float)
    lost = rng.exponential(365.25 / _LOSS_TO_FOLLOW_UP_PER_YEAR, size=n)
    observed = np.minimum.reduce([death, administrative, lost])
    time = np.maximum(np.ceil(observed), 1.0)
    event = death <= np.minimum(administrative, lost)
    return event, time


def _check_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a real number; got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return float(value)


def _correlate_with_phenotype(rng, X, phenotype, rho):
    """Redraw MVI and mRECIST response from a Gaussian copula with the phenotype (proportions kept)."""
    from scipy.special import ndtr

    n = len(X)
    for column, levels, probs in (
        ("mvi", ["No", "Yes"], [0.475, 0.525]),
        ("response", ["CR", "PR", "SD", "PD"], [0.15, 0.40, 0.30, 0.15]),  # worst last: high z -> PD
    ):
        u = ndtr(rho * phenotype + np.sqrt(1.0 - rho**2) * rng.standard_normal(n))
        X[column] = np.asarray(levels, dtype=object)[np.searchsorted(np.cumsum(probs)[:-1], u, side="right")]


def _tumor_diameters(rng, size_mm, multiple):
    diameters = [float(size_mm)]
    n_extra = 2 if multiple else int(rng.uniform() < 0.5)
    diameters += list(float(size_mm) * rng.uniform(0.25, 0.5, size=n_extra))
    return diameters


def make_tace_cohort(
    n_patients: int = 301,
    *,
    path: str | os.PathLike | None = None,
    image_shape: tuple[int, int, int] = (32, 128, 128),
    spacing: tuple[float, float, float] = (2.5, 1.5, 1.5),
    with_images: bool = True,
    overwrite: bool = False,
    return_truth: bool = False,
    random_state=None,
    progress: bool = False,
    phenotype: str = "texture",
    phenotype_strength: float = 1.0,
    clinical_correlation: float = 0.0,
    phases: tuple[str, ...] = ("arterial",),
):
    """Make the synthetic TACE cohort: clinical factors, CT volumes with tumour masks, and overall survival.

    Clinical factors follow the paper's Table 1 (medians, IQRs and proportions of the
    301 patients). The ALBI grade is computed from albumin and bilirubin with the ALBI
    formula (grade 1: score ≤ −2.60), which at Table 1's lab medians gives fewer grade-1
    patients (~35%) than Table 1's 52%: the formula wins. Survival follows a Weibull
    proportional-hazards model whose clinical log hazard ratios are Table 2's multivariable
    column (MVI, ALBI grade, BCLC-B subclass, treatment response) plus a latent tumour
    phenotype visible only in the CT (texture heterogeneity, necrotic core, irregular
    margin) with log HR :data:`IMAGE_LOG_HAZARD_RATIO` per SD. Patients are enrolled
    2012–2015 and censored at 2022-01-01 or when lost to follow-up (4% a year).

    The image phenotype comes in families (``phenotype=``), pre-specified here before any
    model was run on them and not tuned afterwards; ``p = Φ(z)`` for a latent ``z``:

    * ``"texture"`` (default; the radiomics-favourable control, bit for bit the generator
      of earlier versions): the HU SD inside the tumour is ``6 + 34 p``, the necrotic core's
      relative radius ``0.65 Φ(1.5 (z − 0.3))`` and the margin's lobulation ``0.04 + 0.40 p``.
    * ``"spatial"``: one multiset of tumour HU values drawn independently of ``z`` (necrosis
      N(15, 6) HU on a share U(0.10, 0.35), arterially enhancing N(100, 12) HU on U(0.25, 0.45),
      viable N(50, 8) HU on the rest) laid on the mask in the order of a placement score
      ``2 p·radial + 1.5 p·mosaic + diffuse``: distance from a necrosis centre set off by
      ``0.6 (1 − p)`` of the radius (central necrosis with rim enhancement at high ``z``,
      eccentric necrosis at low ``z``), six Voronoi compartments (mosaic), a smooth random
      field (σ 3 mm; diffuse enhancement). Only the placement depends on ``z``, so every
      first-order statistic inside the mask is independent of ``z`` by construction; the
      tumour's margin and size come from a nuisance latent independent of ``z``.
    * ``"peritumoral"``: the tumour inside the mask is rendered as ``"texture"`` from a nuisance
      latent independent of ``z``; ``z`` acts only in the liver outside the mask: an enhancing
      capsule (90 HU, first voxel layer) with gaps over ``0.1 + 0.6 p`` of it, infiltrative
      tumour-like (45 HU) fingers up to ``1 + 8 p`` mm, an arterial-enhancement wedge (+30 HU
      fading over ``5 + 15 p`` mm, half-angle ``20 + 50 p`` degrees) and Poisson(``4 p``)
      unsegmented satellite nodules (radius 1.5–3 mm, 4–15 mm from the margin).
      ``RadiomicsExtractor(region="ring")`` sees this area.
    * ``"mixed"``: ``"spatial"`` inside the mask and ``"peritumoral"`` outside, driven by two
      independent latents ``z_s``, ``z_p``; ``phenotype = (z_s + z_p) / √2``, each with half the
      image log hazard's variance.
    * ``"none"``: the negative control: images as ``"texture"``, but the latent has no effect on
      survival (``image_lp = 0``).

    In every family the image log hazard is ``phenotype_strength ×`` :data:`IMAGE_LOG_HAZARD_RATIO`
    ``× phenotype``, so the families share one image-part oracle in distribution.

    Parameters
    ----------
    n_patients : int, default=301
        Number of patients.
    path : str or path-like, optional
        Folder to write ``manifest.csv`` and ``images/`` into. ``None`` writes to a new
        temporary folder. An existing non-empty folder is refused unless ``overwrite``.
    image_shape : (slices, rows, columns), default=(32, 128, 128)
        Size of each CT volume.
    spacing : (slice, row, column) in mm, default=(2.5, 1.5, 1.5)
        Voxel spacing.
    with_images : bool, default=True
        Write CT and mask volumes (NIfTI, ``.nii.gz``). ``False`` gives a clinical-only
        cohort (no ``ct``/``mask`` columns) with the same clinical data and survival.
    overwrite : bool, default=False
        Allow writing into a non-empty ``path`` (only the manifest and ``images/`` are replaced).
    return_truth : bool, default=False
        Also return a DataFrame with the true log hazards: ``clinical_lp``, ``phenotype``
        (latent, standard normal), ``image_lp`` and ``lp`` (their sum), then per image trait
        family ``f`` of the cohort ``phenotype_f`` (its latent) and ``lp_f`` (its log hazard;
        they sum to ``image_lp``), indexed like ``X``. ``truth.attrs`` holds ``phenotype``,
        ``phenotype_strength``, ``clinical_correlation`` and ``image_log_hazard_ratio``. Each
        column is an oracle: Harrell's C of ``lp``, ``clinical_lp``, ``image_lp`` or ``lp_f``.
    random_state : int, RandomState instance or None
        Seed; the same seed gives the same cohort, byte for byte in the manifest.
    progress : bool, default=False
        Show a progress bar while writing images.
    phenotype : {"texture", "spatial", "peritumoral", "mixed", "none"}, default="texture"
        Image phenotype family (above).
    phenotype_strength : float, default=1.0
        Multiplies :data:`IMAGE_LOG_HAZARD_RATIO` (0: the image shows the latent, survival ignores it).
    clinical_correlation : float in (-1, 1), default=0.0
        Correlation of the latent phenotype with microvascular invasion and a worse mRECIST response
        (a Gaussian copula keeping their proportions): images then also carry clinical risk, as in
        real HCC. 0 draws them independently (bit for bit the default cohort).
    phases : tuple of str, default=("arterial",)
        CT phases written: ``("arterial",)`` the ``ct`` column only (bit for bit the cohort of earlier
        versions); ``("arterial", "portal")`` also a portal-venous phase in column ``ct_portal``
        (:func:`~sksurv_tace.datasets._phantom.portal_phase`): the liver enhanced by 30 HU, tumour washout
        of -20 HU, the anatomy moved by up to 2 mm per axis, on another grid (slices 0.8x, pixels 1.2x the
        arterial spacing, another origin), so that ``CTPreprocessor(image_columns=("ct", "ct_portal"))``
        has to resample it; the mask stays on the arterial grid. The arterial images, clinical data and
        survival are those of ``("arterial",)``.

    Returns
    -------
    X : DataFrame
        ``patient_id``, the clinical columns of :data:`CLINICAL_COLUMNS` (categoricals as
        pandas ``category``) and, with images, absolute ``ct`` and ``mask`` paths.
    y : structured array
        ``event`` (bool) and ``time`` (days).
    truth : DataFrame
        Only when ``return_truth``.

    Examples
    --------
    >>> import tempfile
    >>> X, y = make_tace_cohort(20, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    >>> X.shape, y.dtype.names
    ((20, 22), ('event', 'time'))
    >>> _, _, truth = make_tace_cohort(50, with_images=False, phenotype="mixed", return_truth=True, random_state=0)
    >>> truth.attrs["phenotype"], [c for c in truth.columns if c.startswith("lp_")]
    ('mixed', ['lp_spatial', 'lp_peritumoral'])
    """
    if not isinstance(n_patients, int | np.integer) or n_patients < 2:
        raise ValueError(f"n_patients must be an integer >= 2, got {n_patients!r}")
    family = phenotype
    if family not in PHENOTYPE_FAMILIES:
        raise ValueError(f"phenotype must be one of {PHENOTYPE_FAMILIES}; got {family!r}")
    strength = _check_real(phenotype_strength, "phenotype_strength")
    rho = _check_real(clinical_correlation, "clinical_correlation")
    if not -1.0 < rho < 1.0:
        raise ValueError(f"clinical_correlation must lie strictly between -1 and 1; got {clinical_correlation!r}")
    if tuple(phases) not in (("arterial",), ("arterial", "portal")):
        raise ValueError(f"phases must be ('arterial',) or ('arterial', 'portal'); got {phases!r}")
    rng = check_random_state(random_state)
    rng = np.random.default_rng(rng.randint(0, 2**31 - 1))
    X = _clinical_factors(rng, n_patients)
    latents = {"texture": rng.standard_normal(n_patients)}  # the default cohort's draws, in its order
    if family == "mixed":
        latents = {"spatial": latents["texture"], "peritumoral": rng.standard_normal(n_patients)}
    elif family != "texture":
        latents = {family: latents["texture"]}
    phenotype = sum(latents.values()) / np.sqrt(len(latents))
    if rho != 0.0:
        _correlate_with_phenotype(rng, X, phenotype, rho)
    clinical_lp = clinical_linear_predictor(X)
    log_hr = 0.0 if family == "none" else strength * IMAGE_LOG_HAZARD_RATIO
    image_lp = log_hr * phenotype
    event, time = _survival(rng, clinical_lp + image_lp)
    y = Surv.from_arrays(event, time)
    image_seeds = rng.integers(0, 2**31 - 1, size=n_patients)

    folder = Path(path) if path is not None else None
    if folder is None:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="sksurv_tace_cohort_"))
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise ValueError(
            f"{str(folder)!r} is not empty; choose a new folder or pass overwrite=True "
            "(--overwrite on the command line) to replace its cohort files"
        )
    folder.mkdir(parents=True, exist_ok=True)
    if with_images:
        z_second = latents.get("peritumoral") if family == "mixed" else None
        z_first = latents["spatial"] if family == "mixed" else phenotype
        paths = _write_images(X, (z_first, z_second), image_seeds, folder, image_shape, spacing, progress, family,
                              portal="portal" in phases)  # fmt: skip
        X["ct"], X["mask"] = paths[:2]
        if "portal" in phases:
            X["ct_portal"] = paths[2]
    image_columns = ["ct", "mask", *(["ct_portal"] if "portal" in phases else [])] if with_images else []
    X = _tidy_dtypes(X[["patient_id", *CLINICAL_COLUMNS, *image_columns]])
    write_manifest(folder / "manifest.csv", X, y, image_columns=image_columns or ("ct", "mask"))
    if return_truth:
        truth = pd.DataFrame(
            {"clinical_lp": clinical_lp, "phenotype": phenotype, "image_lp": image_lp, "lp": clinical_lp + image_lp},
            index=X.index,
        )
        scale = log_hr / np.sqrt(len(latents))
        for name, z in latents.items():
            truth[f"phenotype_{name}"], truth[f"lp_{name}"] = z, scale * z
        truth.attrs.update(phenotype=family, phenotype_strength=strength, clinical_correlation=rho,
                           image_log_hazard_ratio=log_hr)  # fmt: skip
        return X, y, truth
    return X, y


def _write_images(X, latents, seeds, folder, shape, spacing, progress, family="texture", portal=False):
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    from sksurv_tace._threads import available_cores

    image_dir = folder / "images"
    image_dir.mkdir(exist_ok=True)
    first, second = latents
    second = np.zeros(len(X)) if second is None else second
    rows = list(zip(X["patient_id"], X["tumor_size"], X["tumor_number"], first, second, seeds, strict=True))
    options = dict(image_dir=image_dir, shape=shape, spacing=spacing, family=family, portal=portal)
    # each patient draws from its own seed, so the files do not depend on the order the threads finish in;
    # SimpleITK's compressed writes (half the time) release the GIL, so two threads write about twice as fast
    with ThreadPoolExecutor(max_workers=max(1, min(2, available_cores()))) as pool:
        written = pool.map(lambda row: _write_patient(*row, **options), rows)
        paths = list(tqdm(written, total=len(rows), disable=not progress, desc="writing CT volumes"))
    ct_paths, mask_paths, portal_paths = (list(column) for column in zip(*paths, strict=True)) if paths else ([],) * 3
    return ct_paths, mask_paths, [p for p in portal_paths if p is not None]


def _write_patient(pid, size, number, z, z2, seed, *, image_dir, shape, spacing, family, portal):
    """Render one patient's phantom and write its CT and mask (and portal phase): their three paths."""
    import SimpleITK as sitk

    from sksurv_tace.datasets._phantom import render_ct

    rng = np.random.default_rng(int(seed))
    # the nuisance latent of the tumour's own look in the spatial/peritumoural families (independent of z)
    nuisance = float(rng.standard_normal()) if family not in ("texture", "none") else 0.0
    ct, mask = render_ct(
        rng, shape=shape, spacing=spacing, tumor_diameters_mm=_tumor_diameters(rng, size, number == ">2"),
        phenotype=float(z), family=family, nuisance=nuisance, second_phenotype=float(z2),
    )  # fmt: skip
    paths = []
    for array, suffix in ((ct, "ct"), (mask, "mask")):
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(tuple(float(s) for s in spacing[::-1]))  # SimpleITK orders (x, y, z)
        file = image_dir / f"{pid}_{suffix}.nii.gz"
        sitk.WriteImage(image, str(file), useCompression=True)
        paths.append(str(file.resolve()))
    portal_path = None
    if portal:  # its own generator, drawn after the arterial volume's (which it leaves unchanged)
        from sksurv_tace.datasets._phantom import portal_phase

        image = portal_phase(np.random.default_rng(rng.integers(0, 2**63 - 1)), ct, mask, spacing)
        file = image_dir / f"{pid}_ct_portal.nii.gz"
        sitk.WriteImage(image, str(file), useCompression=True)
        portal_path = str(file.resolve())
    return paths[0], paths[1], portal_path
