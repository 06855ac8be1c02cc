"""Radiomics: pyradiomics feature extraction as a cached, parallel transformer, and the paper's LASSO-Cox model.

* :class:`RadiomicsExtractor` turns the ``ct``/``mask`` path columns into one row of pyradiomics features per
  patient. Work is spread with joblib (``n_jobs``), so it also runs on a cluster under
  ``joblib.parallel_backend("dask")`` with a ``dask.distributed`` client, and results are cached on disk
  keyed by the files' content and the extraction parameters.
* :class:`RadiomicsCox` is the paper's "Radiomic" model: features -> z-score -> correlation filter ->
  LASSO-Cox (scikit-survival's :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis`) with the penalty chosen
  by inner cross-validation on the training data.

Running on a cluster::

    from dask.distributed import Client
    import joblib
    client = Client("scheduler-address:8786")      # or Client(LocalCluster(...))
    with joblib.parallel_backend("dask"):
        features = RadiomicsExtractor(memory="/shared/cache").fit_transform(X)

The image files must be readable from the workers (shared file system).
"""

from __future__ import annotations

import copy
import os
import threading

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sksurv_tace._patients import map_patients
from sksurv_tace._validation import check_clinical_columns, row_labels
from sksurv_tace.preprocessing._alignment import check_mask_geometry, check_segment
from sksurv_tace.preprocessing.image_checks import _check_mask_label, check_image_paths
from sksurv_tace.preprocessing.imaging import _read_patient
from sksurv_tace.preprocessing.lesions import _check_lesions, _volume_weighted, lesion_masks

__all__ = ["RadiomicsExtractor", "DEFAULT_CT_SETTINGS", "peritumoral_ring"]

_REGIONS = ("tumour", "ring", "tumour+ring")

#: Extraction settings used when ``settings=None``: fixed bin width of 25 HU, B-spline resampling to 1 mm
#: isotropic voxels (the mask is resampled with nearest neighbour by pyradiomics). No ``label``: the tumour
#: is chosen by ``RadiomicsExtractor(mask_label=...)``, the rule every image path of the package shares.
DEFAULT_CT_SETTINGS = {
    "binWidth": 25,
    "resampledPixelSpacing": [1.0, 1.0, 1.0],
    "interpolator": "sitkBSpline",
    "normalize": False,
    "minimumROIDimensions": 2,
}


#: Feature classes enabled by default: every 3-D class of pyradiomics (shape2D needs ``force2D``).
DEFAULT_FEATURE_CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


# pyradiomics validates parameters with pykwalify/ruamel.yaml, which is not thread-safe (thread-based joblib or
# dask workers would otherwise fail with "expected a single document in the stream").
_PARAMS_LOCK = threading.Lock()


def _make_extractor(params: dict):
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    with _PARAMS_LOCK:
        return RadiomicsFeatureExtractor(copy.deepcopy(params))


def _extract_patient(paths: tuple[str, str], label: str, columns: tuple[str, str], params: dict) -> dict:
    """One patient's features: the per-patient function of :func:`~sksurv_tace._patients.map_patients`."""
    import radiomics

    radiomics.setVerbosity(40)
    # the checks and the tumour rule of every image path; pyradiomics gets the tumour as label 1 of a 0/1 mask
    geometry = {"segment": params.get("segment"), "mask_geometry": params.get("mask_geometry", "strict")}
    image, tumour = _read_patient(paths, label, columns, params["mask_label"], volume=False, **geometry)
    lesions = params.get("lesions", "union")
    if lesions == "union":
        return _tumour_features(image, tumour, params, label)
    import SimpleITK as sitk

    masks = lesion_masks(sitk.GetArrayViewFromImage(tumour), lesions)
    rows = []
    for i, mask in enumerate(masks):
        lesion = sitk.GetImageFromArray(mask.view(np.uint8))
        lesion.CopyInformation(tumour)
        where = f"{label}: lesion {i + 1} of {len(masks)} ({int(mask.sum())} voxels; lesions={lesions!r})"
        rows.append(_tumour_features(image, lesion, params, where))
    return rows[0] if len(rows) == 1 else _volume_weighted(rows, [int(m.sum()) for m in masks])


def _tumour_features(image, tumour, params: dict, label: str) -> dict:
    """pyradiomics features of one tumour mask (0/1 image) and, with ``region``, of its peritumoural ring."""
    extractor = _make_extractor(params["pyradiomics"])
    region = params.get("region", "tumour")
    regions = {"": tumour}
    if region != "tumour":
        ring = _ring_image(image, tumour, params["ring_mm"], label)
        regions = {"ring_": ring} if region == "ring" else {"": tumour, "ring_": ring}
    features = {}
    for prefix, mask in regions.items():
        try:
            result = extractor.execute(image, mask, label=1)
        except (ValueError, RuntimeError, AssertionError) as exc:
            what = "the peritumoural ring" if prefix else "the tumour"
            raise ValueError(f"{label}: pyradiomics could not extract features of {what} ({exc})") from None
        for name, value in result.items():
            if name.startswith("diagnostics_"):
                if params["include_diagnostics"]:
                    features[prefix + name] = value
                continue
            features[prefix + name] = _real(np.asarray(value), prefix + name, label)
    return features


def _real(value: np.ndarray, name: str, label: str) -> float:
    """A feature as a float. pyradiomics' shape features take eigenvalues from ``numpy.linalg.eig``, which returns
    complex numbers with a rounding-level imaginary part for a symmetric ROI (a sphere's equal axes): the real part
    is the value. A truly complex value is refused."""
    if np.iscomplexobj(value):
        if abs(value.imag) > 1e-9 * max(1.0, abs(value.real)):
            raise ValueError(f"{label}: pyradiomics returned the complex value {complex(value)} for {name}")
        value = value.real
    return float(value)


def peritumoral_ring(tumour: np.ndarray, ct: np.ndarray, spacing, ring_mm: float) -> np.ndarray:
    """The peritumoural ring: voxels within ``ring_mm`` of the tumour (Euclidean, in mm), outside it, inside the body.

    The body is the CT above −500 HU with its holes filled slice by slice (air outside the patient
    is left out, soft tissue and gas inside it kept).

    Parameters
    ----------
    tumour : bool ndarray, shape (slices, rows, columns)
    ct : ndarray of HU, same shape
    spacing : (slice, row, column) spacing in mm
    ring_mm : float
        Width of the ring.

    Returns
    -------
    bool ndarray
        The ring (``dilated tumour − tumour``, within the body).

    Examples
    --------
    >>> import numpy as np
    >>> tumour = np.zeros((1, 7, 7), bool); tumour[0, 3, 3] = True
    >>> int(peritumoral_ring(tumour, np.zeros((1, 7, 7)), (1.0, 1.0, 1.0), 1.0).sum())  # the 4 neighbours
    4
    """
    from scipy import ndimage

    tumour = np.asarray(tumour, dtype=bool)
    spacing = np.asarray(spacing, dtype=float)
    ring = np.zeros(tumour.shape, dtype=bool)
    if not tumour.any():
        return ring
    reach = np.ceil(ring_mm / spacing).astype(int) + 1  # the tumour's box grown by the ring, in voxels
    box = tuple(
        slice(max(s.start - r, 0), min(s.stop + r, n))
        for s, r, n in zip(ndimage.find_objects(tumour.astype(np.uint8))[0], reach, tumour.shape, strict=True)
    )
    distance = ndimage.distance_transform_edt(~tumour[box], sampling=spacing)
    body = np.stack([ndimage.binary_fill_holes(plane) for plane in np.asarray(ct[box]) > -500])
    ring[box] = (distance > 0) & (distance <= ring_mm) & body
    return ring


def _ring_image(image, tumour, ring_mm: float, label: str):
    """The ring of :func:`peritumoral_ring` as a 0/1 image on the CT's grid; a ``ValueError`` naming the patient."""
    import SimpleITK as sitk

    shape = sitk.GetArrayViewFromImage(tumour).shape
    tumour_array = sitk.GetArrayFromImage(tumour).astype(bool).reshape((-1, *shape[-2:]))
    ct = sitk.GetArrayFromImage(image).reshape(tumour_array.shape)
    spacing = tuple(image.GetSpacing())[::-1]
    ring = peritumoral_ring(tumour_array, ct, spacing if len(spacing) == 3 else (1.0, *spacing), ring_mm)
    if not ring.any():
        raise ValueError(f"{label}: the {ring_mm} mm peritumoural ring is empty (no body voxel around the tumour)")
    ring_image = sitk.GetImageFromArray(ring.reshape(shape).view(np.uint8))
    ring_image.CopyInformation(tumour)
    return ring_image


class RadiomicsExtractor(TransformerMixin, BaseEstimator):
    """pyradiomics features from CT / tumour-mask path columns, one row per patient.

    Parameters
    ----------
    image_column, mask_column : str, default="ct", "mask"
        Columns of ``X`` holding the image and mask paths (anything
        :func:`~sksurv_tace.preprocessing.read_image` reads, DICOM series folders included).
    mask_label : int or None, default=None
        Label value of the tumour in the mask (other labels, e.g. a liver label, are ignored). None: the mask
        must be binary (one non-zero value, e.g. 0/1 or 0/255), and every non-zero voxel is tumour; a mask with
        several non-zero labels is refused (a ``ValueError`` naming the patient and the labels found), as is
        ``0``. The same parameter, default and rule as :class:`~sksurv_tace.preprocessing.CTPreprocessor`, so
        both models see the same tumour. A pyradiomics ``label`` in ``settings`` is taken as ``mask_label``
        (they must agree when both are given). For label images; a DICOM SEG's tumour is chosen by ``segment``.
    segment : str, int, tuple or None, default=None
        DICOM SEG masks only: the tumour segment(s) by label (``"Mass"``) or number, several as a tuple (their
        union); None takes a one-segment SEG's only segment and refuses a SEG with several. The same parameter
        and rule as :class:`~sksurv_tace.preprocessing.CTPreprocessor` (the segment is rasterised onto the CT's
        grid; a CT folder is read with the images the SEG references).
    mask_geometry : {"strict", "resample"}, default="strict"
        "strict": a label-image mask must lie on the CT's grid once both are in one orientation; "resample":
        it is resampled onto the CT by nearest neighbour (refused when the tumour lies outside the CT). As for
        :class:`~sksurv_tace.preprocessing.CTPreprocessor`. When ``settings`` set pyradiomics' ``correctMask:
        True`` and ``mask_geometry="strict"``, the grid check is left to pyradiomics (its
        ``geometryTolerance`` and mask correction apply, not pre-empted here).
    settings : None, dict or str, default=None
        ``None``: :data:`DEFAULT_CT_SETTINGS` (bin width 25 HU, 1 mm isotropic resampling).
        A dict: either pyradiomics settings (``{"binWidth": 25, ...}``, used instead of the CT defaults on top
        of pyradiomics' own defaults) or a full parameter dict with ``setting``/``imageType``/``featureClass``
        sections. A str or path: a pyradiomics YAML/JSON parameter file.
    image_types : dict, optional
        pyradiomics image types, e.g. ``{"Original": {}, "LoG": {"sigma": [1.0, 3.0]}, "Wavelet": {}}``.
        ``None`` keeps the parameter file's, else ``{"Original": {}}``.
    feature_classes : dict or sequence, optional
        Feature classes (and optionally features) to compute; ``None`` keeps the parameter file's, else all
        3-D classes (:data:`DEFAULT_FEATURE_CLASSES`).
    n_jobs : int, optional
        Patients extracted in parallel by joblib (``None``: 1, or the active ``parallel_backend``'s default).
    memory : None, str or joblib.Memory, default=None
        Disk cache. Entries are keyed by the SHA-256 of the image and mask files, the full parameter set and
        the pyradiomics version, so renamed or moved files hit the cache and edited files do not. Set it for
        grid searches and repeated fits: without it every fit re-extracts.
    progress : bool, default=True
        Show a tqdm progress bar over patients.
    include_diagnostics : bool, default=False
        Also return pyradiomics' ``diagnostics_*`` entries (non-numeric; off for modelling).
    lesions : {"union", "largest", "all"}, default="union"
        Which lesions (26-connected components of the tumour mask,
        :func:`~sksurv_tace.preprocessing.label_lesions`) of a multinodular liver the features describe:
        "union", every lesion as one ROI (pyradiomics' single label); "largest", the largest lesion only
        (the one the deep models' default crop shows); "all", each lesion extracted on its own and every
        feature averaged over the lesions with their voxel counts as weights (diagnostics from the largest).
        With ``region`` other than "tumour" the ring is drawn around the lesion(s) extracted. See
        :class:`~sksurv_tace.preprocessing.LesionBurden` for lesion count and total volume.
    region : {"tumour", "ring", "tumour+ring"}, default="tumour"
        Where features are computed: inside the tumour mask; in the peritumoural ring
        (:func:`peritumoral_ring`: within ``ring_mm`` of the tumour, outside it, inside the body), the
        area the deep models' ROI margin shows them; or both, the ring's columns prefixed ``ring_``.
    ring_mm : float, default=10.0
        Width of the peritumoural ring in mm (used unless ``region="tumour"``).

    Attributes
    ----------
    params_ : dict
        The full pyradiomics parameter dict used.
    feature_names_out_ : ndarray of str
        Names of the feature columns.
    feature_names_in_ : ndarray of str
    n_features_in_ : int

    Notes
    -----
    Each patient's CT and mask are read and checked as by :class:`~sksurv_tace.preprocessing.CTPreprocessor`
    (a ``ValueError`` naming the patient for an unreadable, truncated or corrupt file, NaN or infinite voxels
    anywhere in the CT or mask, a mask off the CT's grid, an empty or ambiguous mask); pyradiomics then gets
    the CT and the selected tumour as label 1 of a 0/1 mask.

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(2, path=tempfile.mkdtemp(), image_shape=(16, 48, 48), random_state=0)
    >>> features = RadiomicsExtractor(progress=False).fit_transform(X)
    >>> features.shape[0], features.shape[1] >= 100
    (2, True)
    >>> from sksurv_tace.preprocessing import CTPreprocessor
    >>> RadiomicsExtractor().mask_label == CTPreprocessor().mask_label  # one tumour rule, one default
    True
    """

    def __init__(
        self,
        *,
        image_column="ct",
        mask_column="mask",
        mask_label=None,
        segment=None,
        mask_geometry="strict",
        settings=None,
        image_types=None,
        feature_classes=None,
        n_jobs=None,
        memory=None,
        progress=True,
        include_diagnostics=False,
        region="tumour",
        ring_mm=10.0,
        lesions="union",
    ):
        self.image_column = image_column
        self.mask_column = mask_column
        self.mask_label = mask_label
        self.segment = segment
        self.mask_geometry = mask_geometry
        self.settings = settings
        self.image_types = image_types
        self.feature_classes = feature_classes
        self.n_jobs = n_jobs
        self.memory = memory
        self.progress = progress
        self.include_diagnostics = include_diagnostics
        self.region = region
        self.ring_mm = ring_mm
        self.lesions = lesions

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags

    def _params(self) -> dict:
        _check_lesions(self.lesions)
        if self.region not in _REGIONS:
            raise ValueError(f"region must be one of {_REGIONS}; got {self.region!r}")
        ring_mm = self.ring_mm
        if isinstance(ring_mm, bool) or not isinstance(ring_mm, int | float) or not 0 < ring_mm < np.inf:
            raise ValueError(f"ring_mm must be a positive number of millimetres; got {ring_mm!r}")
        settings = self.settings
        if settings is None:
            params = {"setting": dict(DEFAULT_CT_SETTINGS)}
        elif isinstance(settings, str | os.PathLike):
            path = os.fspath(settings)
            if not os.path.isfile(path):
                raise ValueError(f"settings file {path!r} does not exist")
            from ruamel.yaml import YAML  # pyradiomics' own YAML parser (through pykwalify); reads JSON too

            with open(path) as handle:
                params = YAML(typ="safe", pure=True).load(handle) or {}
            if not isinstance(params, dict):
                raise ValueError(f"settings file {path!r} does not hold a pyradiomics parameter mapping")
        elif isinstance(settings, dict):
            if set(settings) & {"setting", "imageType", "featureClass", "voxelSetting"}:
                params = copy.deepcopy(settings)
            else:
                params = {"setting": copy.deepcopy(settings)}
        else:
            raise ValueError(f"settings must be None, a dict or a path to a parameter file; got {type(settings)}")
        params = {k: v for k, v in params.items() if v is not None}
        if self.image_types is not None:
            params["imageType"] = copy.deepcopy(dict(self.image_types))
        params.setdefault("imageType", {"Original": {}})
        if self.feature_classes is not None:
            classes = self.feature_classes
            params["featureClass"] = (
                copy.deepcopy(dict(classes)) if isinstance(classes, dict) else {c: [] for c in classes}
            )
        params.setdefault("featureClass", {c: [] for c in DEFAULT_FEATURE_CLASSES})
        # drop None-valued settings, which pyradiomics' schema rejects; its defaults are the same
        params["setting"] = {k: v for k, v in params.get("setting", {}).items() if v is not None}
        try:
            _make_extractor(params)
        except Exception as exc:  # pykwalify raises its own SchemaError
            raise ValueError(f"invalid pyradiomics parameters {params}: {exc}") from None
        self._mask_label(params)
        return params

    def _mask_label(self, params: dict):
        """The tumour label: ``mask_label``, else a pyradiomics ``label`` setting; a ``ValueError`` if they differ."""
        mask_label = _check_mask_label(self.mask_label)
        setting = params.get("setting", {}).get("label")
        if setting is None:
            return mask_label
        setting = _check_mask_label(setting, "the pyradiomics setting label")
        if mask_label is not None and mask_label != setting:
            raise ValueError(
                f"mask_label={mask_label} and the pyradiomics setting label={setting} disagree; "
                "give the tumour's label once, as mask_label"
            )
        return setting

    def _mask_geometry(self, params: dict):
        """``mask_geometry``, or None (the check left to pyradiomics) when its ``correctMask`` is on under "strict"."""
        geometry = check_mask_geometry(self.mask_geometry)
        if geometry is None:
            raise ValueError("mask_geometry must be 'strict' or 'resample'; got None")
        if geometry == "strict" and params.get("setting", {}).get("correctMask"):
            return None
        return geometry

    def _extract(self, X: pd.DataFrame, params: dict) -> list[dict]:
        check_clinical_columns(X, [self.image_column, self.mask_column])
        import radiomics

        # part of the cache key: a new pyradiomics version may compute other values; "rule" 3: the shared
        # checks, mask-label/segment rule and alignment of sksurv_tace.preprocessing.imaging._read_patient
        key = {"pyradiomics": params, "version": radiomics.__version__, "include_diagnostics": self.include_diagnostics,
               "mask_label": self._mask_label(params), "segment": check_segment(self.segment),
               "mask_geometry": self._mask_geometry(params), "rule": 3}  # fmt: skip
        if self.region != "tumour":  # the tumour's key stays as before, so existing caches still serve it
            key.update(region=self.region, ring_mm=float(self.ring_mm))
        if self.lesions != "union":  # likewise
            key.update(lesions=self.lesions)
        columns = (self.image_column, self.mask_column)
        return map_patients(_extract_patient, X, columns, key, memory=self.memory, n_jobs=self.n_jobs,
                            progress=self.progress, desc="radiomics")  # fmt: skip

    def _to_frame(self, rows: list[dict], X: pd.DataFrame) -> pd.DataFrame:
        names = list(rows[0]) if rows else []
        labels = row_labels(X)
        for label, row in zip(labels, rows, strict=True):
            if list(row) != names:
                raise ValueError(f"{label}: pyradiomics returned a different feature set than for the first patient")
        frame = pd.DataFrame.from_records(rows, index=X.index, columns=names)
        if not self.include_diagnostics:
            frame = frame.astype(np.float64)
        return frame

    def fit(self, X, y=None):
        """Validate parameters, check every patient's files and learn the feature names (extracts the first patient).

        The files are checked as by :func:`~sksurv_tace.preprocessing.image_checks.check_image_paths`
        (2-D images allowed), all bad patients reported in one ``ValueError``; :meth:`fit_transform` too.

        Parameters
        ----------
        X : DataFrame
            With the image and mask path columns.
        y : ignored

        Returns
        -------
        self
        """
        check_clinical_columns(X, [self.image_column, self.mask_column])
        if len(X) == 0:
            raise ValueError("X has no rows")
        params = self._params()
        self._check_files(X, params)
        rows = self._extract(X.iloc[:1], params)
        self._set_fitted(X, params, list(rows[0]))
        return self

    def _check_files(self, X, params) -> None:
        """Every patient's files checked before any extraction; all bad patients in one ``ValueError``."""
        check_image_paths(X, image_column=self.image_column, mask_column=self.mask_column,
                          mask_label=self._mask_label(params), segment=check_segment(self.segment),
                          mask_geometry=self._mask_geometry(params), volume=False)  # fmt: skip

    def _set_fitted(self, X, params, names):
        self.params_ = params
        self.feature_names_out_ = np.asarray(names, dtype=object)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]

    def fit_transform(self, X, y=None, **fit_params):
        """Extract the features of every patient once and remember their names."""
        check_clinical_columns(X, [self.image_column, self.mask_column])
        if len(X) == 0:
            raise ValueError("X has no rows")
        params = self._params()
        self._check_files(X, params)
        rows = self._extract(X, params)
        self._set_fitted(X, params, list(rows[0]))
        return self._to_frame(rows, X)

    def transform(self, X):
        """Feature table: one row per patient (index of ``X``), columns :meth:`get_feature_names_out`."""
        check_is_fitted(self, "params_")
        rows = self._extract(X, self.params_)
        frame = self._to_frame(rows, X)
        if list(frame.columns) != list(self.feature_names_out_):
            raise ValueError("the extracted features differ from those seen in fit")
        return frame

    def get_feature_names_out(self, input_features=None):
        """Names of the pyradiomics features, e.g. ``original_firstorder_Mean``."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()
