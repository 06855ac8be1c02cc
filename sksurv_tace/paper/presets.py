"""The paper's five models as ``reproduce`` configures them: names, published figures, presets."""

from __future__ import annotations

import pandas as pd
from sklearn.base import clone

from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.clinical_cox import ClinicalCox
from sksurv_tace.models.cnn_cox import CNNCox
from sksurv_tace.models.deep import CTSurvival, FusionSurvival
from sksurv_tace.models.radiomics_cox import RadiomicsCox
from sksurv_tace.preprocessing.imaging import CTPreprocessor
from sksurv_tace.preprocessing.radiomics import DEFAULT_CT_SETTINGS, RadiomicsExtractor

__all__ = [
    "MODEL_NAMES",
    "IMAGE_MODELS",
    "REFERENCE",
    "PAPER_VALIDATION",
    "PAPER_LOG_TRANSFORM",
    "paper_models",
    "cohort_options",
]

#: The paper's models, in the order of its tables.
MODEL_NAMES = ("FusionSurvival", "CTSurvival", "CNNCox", "RadiomicsCox", "ClinicalCox")
IMAGE_MODELS = ("FusionSurvival", "CTSurvival", "CNNCox", "RadiomicsCox")
REFERENCE = "FusionSurvival"

#: The skewed laboratory values of the TACE cohorts (AFP, AST, ALT, total bilirubin): the ``log_transform=``
#: preset of :func:`cohort_options`. Their design columns are ``log1p(afp)`` … and their HRs per log unit.
PAPER_LOG_TRANSFORM = ("afp", "ast", "alt", "tbil")

#: The paper's validation-cohort figures (Tables 3 and 4): 3-year TD AUC and Harrell's C.
PAPER_VALIDATION = pd.DataFrame(
    {
        "model": list(MODEL_NAMES),
        "paper_name": ["DLOP_Combin", "DLOP_CTR", "DLOP_Cox", "Radiomic", "Clinical"],
        "td_auc": [0.96, 0.89, 0.89, 0.63, 0.62],
        "c_index": [0.88, 0.75, 0.77, 0.59, 0.56],
    }
)

# Deep-network settings. "quick": a CPU preset that finishes the 301-patient cohort in minutes: 64 px ROIs with a
# 2 cm margin keep the tumour's texture at about the CT's own resolution (a 5 cm margin at 64 px blurs it; measured
# on the synthetic cohort, see benchmarks/RESULTS.md). "paper": ResNet-101 on 224 px ROIs, 5 cm margin (a GPU job).
_DEEP_PRESETS = {
    "quick": dict(backbone="resnet18", image_size=64, margin_mm=20.0, max_epochs=40, batch_size=32, lr=1e-3,
                  weight_decay=1e-4, early_stopping="loss", patience=10),
    "paper": dict(backbone="resnet101", image_size=224, margin_mm=50.0, max_epochs=60, batch_size=32, lr=3e-4,
                  weight_decay=1e-4, early_stopping="loss", patience=10),
}  # fmt: skip
_ROI_PARAMETERS = ("image_size", "margin_mm")  # of the CTPreprocessor; the rest configure the net
# Quick radiomics: no resampling to 1 mm (5x faster on the synthetic volumes), five feature classes.
_RADIOMICS_QUICK = dict(
    settings={**DEFAULT_CT_SETTINGS, "resampledPixelSpacing": None},
    feature_classes=["firstorder", "glcm", "glrlm", "glszm", "shape"],
)


def paper_models(
    *,
    quick: bool = False,
    device: str = "cpu",
    random_state=0,
    memory=None,
    n_jobs=None,
    with_images: bool = True,
    log_transform=(),
    impute=None,
    progress: bool = True,
    image_options=None,
) -> dict:
    """The five models of the paper, unfitted, configured as ``reproduce`` uses them.

    Parameters
    ----------
    quick : bool, default=False
        CPU preset (ResNet-18, 64 px ROIs with a 2 cm margin, up to 40 epochs with early
        stopping; radiomics without resampling, five feature classes) instead of the paper's
        configuration (ResNet-101, 224 px ROIs with a 5 cm margin; radiomics resampled to 1 mm,
        all 3-D feature classes of the original image).
    device : {"cpu", "cuda", "auto"}, default="cpu"
    random_state : int, default=0
    memory : str or None
        Folder caching ROI tensors and radiomics features between runs.
    n_jobs : int or None
        Patients processed in parallel by the image transformers.
    with_images : bool, default=True
        False returns ``ClinicalCox`` only (a cohort without CT).
    log_transform : sequence of str, default=()
        Skewed clinical columns (labs) replaced by ``log1p`` before the Cox models and the MLP (named
        ``log1p(column)`` in ``summary_`` and Table 2); :func:`cohort_options` gives the paper's labs
        (:data:`PAPER_LOG_TRANSFORM`) that a cohort has.
    impute : {None, "median", "most_frequent"}, default=None
        Missing clinical values: None raises an error naming the column; otherwise imputed
        with training-cohort statistics (see :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`).
    progress : bool, default=True
        Progress displays: the radiomics' bar over patients, the deep models' table of epochs (with an ETA).
        False: silent.
    image_options : mapping, optional
        Tumour-mask options given to both image transformers (:class:`~sksurv_tace.preprocessing.CTPreprocessor`
        and :class:`~sksurv_tace.preprocessing.RadiomicsExtractor`): ``mask_label`` (label images),
        ``segment`` (DICOM SEG masks, e.g. ``"Mass"``), ``mask_geometry`` (``"strict"`` or ``"resample"``).

    Returns
    -------
    dict of str to estimator
        In the order they are fitted: ClinicalCox, RadiomicsCox, CTSurvival, CNNCox,
        FusionSurvival (``CNNCox`` wraps the ``CTSurvival`` instance with ``prefit=True``
        once that is fitted, see :func:`reproduce`).

    Examples
    --------
    >>> sorted(paper_models(quick=True))
    ['CNNCox', 'CTSurvival', 'ClinicalCox', 'FusionSurvival', 'RadiomicsCox']
    >>> list(paper_models(with_images=False))
    ['ClinicalCox']
    """
    log_transform = tuple(log_transform)
    clinical = dict(log_transform=log_transform, impute=impute)
    models = {"ClinicalCox": ClinicalCox(**clinical)}
    if not with_images:
        return models
    preset = _DEEP_PRESETS["quick" if quick else "paper"]
    radiomics = _RADIOMICS_QUICK if quick else {}
    masks = dict(image_options or {})
    unknown = set(masks) - {"mask_label", "segment", "mask_geometry"}
    if unknown:
        raise ValueError(f"image_options takes mask_label, segment and mask_geometry; got {sorted(unknown)}")
    extractor = RadiomicsExtractor(memory=memory, n_jobs=n_jobs, progress=progress, **radiomics, **masks)
    models["RadiomicsCox"] = RadiomicsCox(extractor=extractor, random_state=random_state)
    net = {k: v for k, v in preset.items() if k not in _ROI_PARAMETERS}
    roi = {k: preset[k] for k in _ROI_PARAMETERS}
    image = CTPreprocessor(**roi, memory=memory, n_jobs=n_jobs, **masks)
    deep = dict(net, image_preprocessor=image, device=device, random_state=random_state, verbose=int(progress))
    models["CTSurvival"] = CTSurvival(**deep)
    models["CNNCox"] = CNNCox(clone(models["CTSurvival"]), **clinical)
    models["FusionSurvival"] = FusionSurvival(**deep, clinical=ClinicalBranch(**clinical))
    return models


def cohort_options(X: pd.DataFrame) -> dict:
    """The :func:`paper_models` options a cohort decides: whether it has images, which labs to log-transform.

    ``with_images`` is true when ``X`` has ``ct`` and ``mask`` columns; ``log_transform``
    lists the columns of :data:`PAPER_LOG_TRANSFORM` (the skewed laboratory values of the TACE cohorts:
    AFP, AST, ALT, bilirubin) present in ``X``, passed to every model's ``log_transform=``. ``reproduce``
    and ``sksurv-tace fit`` both build their models this way; other columns are never transformed.

    Examples
    --------
    >>> cohort_options(pd.DataFrame(columns=["patient_id", "afp", "tbil", "mvi"]))
    {'with_images': False, 'log_transform': ('afp', 'tbil')}
    """
    return {
        "with_images": {"ct", "mask"} <= set(X.columns),
        "log_transform": tuple(c for c in PAPER_LOG_TRANSFORM if c in X.columns),
    }
