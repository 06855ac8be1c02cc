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
import hashlib
import json
import os
import threading
import warnings

import numpy as np
import pandas as pd
from joblib import Memory, Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model import CoxnetSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

from ._validation import check_clinical_columns, check_image_paths, check_survival_target, row_labels
from .cox import survival_at

__all__ = ["RadiomicsExtractor", "RadiomicsCox", "correlation_filter", "DEFAULT_CT_SETTINGS"]

#: Extraction settings used when ``settings=None``: fixed bin width of 25 HU, B-spline resampling to 1 mm
#: isotropic voxels (the mask is resampled with nearest neighbour by pyradiomics), label 1.
DEFAULT_CT_SETTINGS = {
    "binWidth": 25,
    "resampledPixelSpacing": [1.0, 1.0, 1.0],
    "interpolator": "sitkBSpline",
    "label": 1,
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


def _file_digest(path: str, label: str, column: str) -> str:
    """SHA-256 of a file, or of every file of a DICOM folder in name order."""
    if not isinstance(path, str | os.PathLike):
        raise ValueError(f"{label}: no {column!r} path given (value {path!r})")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"{label}: {column} file {path!r} does not exist")
    digest = hashlib.sha256()
    files = [os.path.join(path, f) for f in sorted(os.listdir(path))] if os.path.isdir(path) else [path]
    for name in files:
        if os.path.isdir(name):
            continue
        with open(name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _extract_one(image_path, mask_path, params, label, image_column, mask_column, include_diagnostics):
    """Extract the features of one patient (run in a joblib worker)."""
    import radiomics

    radiomics.setVerbosity(40)
    frame = pd.DataFrame({image_column: [image_path], mask_column: [mask_path]})
    check_image_paths(frame, image_column=image_column, mask_column=mask_column, labels=[label])
    extractor = _make_extractor(params)
    try:
        result = extractor.execute(os.fspath(image_path), os.fspath(mask_path))
    except (ValueError, RuntimeError, AssertionError) as exc:
        raise ValueError(f"{label}: pyradiomics could not extract features ({exc})") from None
    features = {}
    for name, value in result.items():
        if name.startswith("diagnostics_"):
            if include_diagnostics:
                features[name] = value
            continue
        features[name] = float(np.asarray(value))
    return features


def _extract_cached(
    image_digest,
    mask_digest,
    params_key,
    image_path,
    mask_path,
    params,
    label,
    image_column,
    mask_column,
    include_diagnostics,
):
    """Cache entry point: the key is the files' digests and the parameters, not the paths."""
    return _extract_one(image_path, mask_path, params, label, image_column, mask_column, include_diagnostics)


class RadiomicsExtractor(TransformerMixin, BaseEstimator):
    """pyradiomics features from CT / tumour-mask path columns, one row per patient.

    Parameters
    ----------
    image_column, mask_column : str, default="ct", "mask"
        Columns of ``X`` holding the image and mask paths (anything SimpleITK reads).
    settings : None, dict or str, default=None
        ``None``: :data:`DEFAULT_CT_SETTINGS` (bin width 25 HU, 1 mm isotropic resampling, label 1).
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

    Attributes
    ----------
    params_ : dict
        The full pyradiomics parameter dict used.
    feature_names_out_ : ndarray of str
        Names of the feature columns.
    feature_names_in_ : ndarray of str
    n_features_in_ : int

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(2, path=tempfile.mkdtemp(), image_shape=(16, 48, 48), random_state=0)
    >>> features = RadiomicsExtractor(progress=False).fit_transform(X)
    >>> features.shape[0], features.shape[1] >= 100
    (2, True)
    """

    def __init__(
        self,
        *,
        image_column="ct",
        mask_column="mask",
        settings=None,
        image_types=None,
        feature_classes=None,
        n_jobs=None,
        memory=None,
        progress=True,
        include_diagnostics=False,
    ):
        self.image_column = image_column
        self.mask_column = mask_column
        self.settings = settings
        self.image_types = image_types
        self.feature_classes = feature_classes
        self.n_jobs = n_jobs
        self.memory = memory
        self.progress = progress
        self.include_diagnostics = include_diagnostics

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags

    def _params(self) -> dict:
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
        return params

    def _memory(self):
        if self.memory is None or isinstance(self.memory, Memory):
            return self.memory if self.memory is not None else Memory(None, verbose=0)
        if isinstance(self.memory, str | os.PathLike):
            return Memory(os.fspath(self.memory), verbose=0)
        raise ValueError(f"memory must be None, a path or a joblib.Memory; got {type(self.memory).__name__}")

    def _extract(self, X: pd.DataFrame, params: dict) -> list[dict]:
        check_clinical_columns(X, [self.image_column, self.mask_column])
        labels = row_labels(X)
        memory = self._memory()
        import radiomics

        # the key: the parameters and the pyradiomics version (a new version may compute other values)
        key = json.dumps({"params": params, "pyradiomics": radiomics.__version__}, sort_keys=True, default=str)
        cached = memory.cache(
            _extract_cached, ignore=["image_path", "mask_path", "params", "label", "image_column", "mask_column"]
        )
        tasks = []
        for label, image_path, mask_path in zip(labels, X[self.image_column], X[self.mask_column], strict=True):
            image_digest = _file_digest(image_path, label, self.image_column)
            mask_digest = _file_digest(mask_path, label, self.mask_column)
            tasks.append(
                delayed(cached)(
                    image_digest,
                    mask_digest,
                    key,
                    os.fspath(image_path),
                    os.fspath(mask_path),
                    params,
                    label,
                    self.image_column,
                    self.mask_column,
                    self.include_diagnostics,
                )
            )
        parallel = Parallel(n_jobs=self.n_jobs, return_as="generator")
        results = parallel(tasks)
        if self.progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(tasks), desc="radiomics", unit="patient")
        return list(results)

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
        """Validate parameters and learn the feature names (extracts the first patient).

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
        rows = self._extract(X.iloc[:1], params)
        self._set_fitted(X, params, list(rows[0]))
        return self

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


def _numeric_features(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"X must be 2-D; got shape {array.shape}")
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise ValueError(
            f"feature column(s) {bad[:5]} are not numeric; pass a feature table or set extractor=RadiomicsExtractor()"
        )
    values = frame.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        labels = row_labels(frame)
        column = int(np.flatnonzero(~np.isfinite(values).all(axis=0))[0])
        rows = np.flatnonzero(~np.isfinite(values[:, column]))
        raise ValueError(
            f"feature {frame.columns[column]!r} is missing or infinite at {', '.join(labels[i] for i in rows[:5])}"
        )
    return pd.DataFrame(values, index=frame.index, columns=[str(c) for c in frame.columns])


def correlation_filter(features: pd.DataFrame, threshold: float) -> list[str]:
    """Keep features in column order, dropping any whose ``|Pearson r|`` with a kept one exceeds ``threshold``.

    Parameters
    ----------
    features : DataFrame
        Numeric features without constant columns.
    threshold : float
        Maximum absolute correlation between two kept features.

    Returns
    -------
    list of str
        Names of the kept features.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 4, 6, 8.5], "c": [1.0, -1, 1, -1]})
    >>> correlation_filter(df, 0.9)
    ['a', 'c']
    """
    corr = np.abs(np.corrcoef(features.to_numpy(dtype=np.float64), rowvar=False))
    corr = np.atleast_2d(corr)
    kept: list[int] = []
    for j in range(features.shape[1]):
        if all(corr[j, k] <= threshold for k in kept):
            kept.append(j)
    return [features.columns[j] for j in kept]


class RadiomicsCox(SurvivalAnalysisMixin, BaseEstimator):
    """The paper's radiomic model: features -> z-score -> correlation filter -> LASSO-Cox.

    Parameters
    ----------
    extractor : RadiomicsExtractor, optional
        Extracts features from the image/mask path columns of ``X`` (cloned in :meth:`fit`). ``None``: ``X``
        already is a numeric feature table.
    corr_threshold : float, default=0.9
        Of each pair of (z-scored) features with ``|Pearson r| > corr_threshold`` only the first, in column
        order, is kept (:func:`correlation_filter`).
    alpha : float, optional
        LASSO penalty. ``None``: chosen by ``cv``-fold inner cross-validation on the training data, as the
        penalty of the path with the highest mean held-out Harrell's C among penalties that keep at least one
        feature (ties: the larger penalty).
    n_alphas : int, default=50
        Length of the penalty path.
    alpha_min_ratio : float or "auto", default=0.01
        Smallest penalty of the path relative to the largest.
    cv : int, default=5
        Folds of the inner cross-validation (stratified by event).
    max_iter : int, default=100000
        Coordinate-descent iterations of :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis`.
    random_state : int, optional
        Seed of the inner fold split.

    Attributes
    ----------
    extractor_ : RadiomicsExtractor or None
    feature_names_in_ : ndarray of str
        Columns of ``X`` seen in fit (only for DataFrame input).
    feature_names_ : list of str
        Columns of the feature table (the extracted features when an extractor is used).
    kept_features_ : list of str
        Features surviving the constant and correlation filters.
    alpha_ : float
        LASSO penalty used.
    cv_scores_ : ndarray of shape (n_alphas,) or None
        Mean held-out C-index along ``alphas_`` (``None`` when ``alpha`` is given).
    alphas_ : ndarray
        Penalty path.
    selected_features_ : list of str
        Features with non-zero coefficients.
    coef_ : ndarray
        Their coefficients (per standard deviation of the feature).
    model_ : CoxnetSurvivalAnalysis
    unique_times_ : ndarray

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(120, 10)), columns=[f"f{i}" for i in range(10)])
    >>> time = rng.exponential(np.exp(-X["f0"].to_numpy())) * 100
    >>> y = Surv.from_arrays(np.ones(120, bool), time)
    >>> model = RadiomicsCox(random_state=0).fit(X, y)
    >>> "f0" in model.selected_features_
    True
    """

    def __init__(
        self,
        *,
        extractor=None,
        corr_threshold=0.9,
        alpha=None,
        n_alphas=50,
        alpha_min_ratio=0.01,
        cv=5,
        max_iter=100000,
        random_state=None,
    ):
        self.extractor = extractor
        self.corr_threshold = corr_threshold
        self.alpha = alpha
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.cv = cv
        self.max_iter = max_iter
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.extractor is not None:
            tags.input_tags.string = True
        return tags

    def _features(self, X, *, fit: bool) -> pd.DataFrame:
        if self.extractor is None:
            return _numeric_features(X)
        if fit:
            self.extractor_ = clone(self.extractor)
            return _numeric_features(self.extractor_.fit_transform(X))
        return _numeric_features(self.extractor_.transform(X))

    def fit(self, X, y):
        """Extract (if an extractor is set), filter, choose the penalty and fit the LASSO-Cox model.

        Parameters
        ----------
        X : DataFrame
            Image/mask path columns (with ``extractor``) or a numeric feature table.
        y : structured array
            Survival target.

        Returns
        -------
        self
        """
        if not 0 < self.corr_threshold <= 1:
            raise ValueError(f"corr_threshold must be in (0, 1]; got {self.corr_threshold!r}")
        event, time = check_survival_target(y, n_samples=len(X), labels=row_labels(X))
        if self.extractor is None:
            self.extractor_ = None
        features = self._features(X, fit=True)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = np.asarray(X).shape[1] if np.ndim(X) == 2 else len(X.columns)
        self.feature_names_ = list(features.columns)
        std = features.std(axis=0, ddof=0)
        varying = features.columns[std.to_numpy() > 0]
        if len(varying) == 0:
            raise ValueError("every feature is constant on the training data")
        self.mean_ = features[varying].mean(axis=0)
        self.scale_ = std[varying]
        z = (features[varying] - self.mean_) / self.scale_
        self.kept_features_ = correlation_filter(z, self.corr_threshold)
        z = z[self.kept_features_].to_numpy()

        path = CoxnetSurvivalAnalysis(
            l1_ratio=1.0, n_alphas=self.n_alphas, alpha_min_ratio=self.alpha_min_ratio, max_iter=self.max_iter
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            path.fit(z, y)
        alphas = path.alphas_
        self.cv_scores_ = None
        if self.alpha is None:
            scores = self._cv_scores(z, y, event, time, alphas)
            nonzero = (np.abs(path.coef_) > 0).any(axis=0)
            candidates = np.where(nonzero & np.isfinite(scores), scores, -np.inf)
            if not np.isfinite(candidates).any():
                candidates = np.where(nonzero, 0.0, -np.inf)
            best = int(np.flatnonzero(candidates == candidates.max())[0])  # alphas decrease: first = largest
            self.cv_scores_ = scores
            self.alpha_ = float(alphas[best])
            fit_alphas = alphas[: best + 1]
        else:
            self.alpha_ = float(self.alpha)
            fit_alphas = np.concatenate([alphas[alphas > self.alpha_], [self.alpha_]])
        self.alphas_ = alphas
        self.model_ = CoxnetSurvivalAnalysis(
            l1_ratio=1.0, alphas=fit_alphas, fit_baseline_model=True, max_iter=self.max_iter
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.model_.fit(z, y)
        coef = self.model_.coef_[:, -1]
        nonzero = np.flatnonzero(coef != 0)
        if len(nonzero) == 0:
            warnings.warn(
                f"LASSO-Cox kept no feature at alpha={self.alpha_:g}; predictions are constant",
                UserWarning,
                stacklevel=2,
            )
        self.selected_features_ = [self.kept_features_[i] for i in nonzero]
        self.coef_ = coef[nonzero]
        self.unique_times_ = self.model_._get_baseline_model(self.alpha_).unique_times_
        return self

    def _cv_scores(self, z, y, event, time, alphas) -> np.ndarray:
        n_splits = min(int(self.cv), int(event.sum()))
        if n_splits < 2:
            raise ValueError(f"inner cross-validation needs at least 2 events; got {int(event.sum())}")
        # stratify by event when both groups can fill every fold
        strata = event if min(event.sum(), (~event).sum()) >= n_splits else np.zeros_like(event)
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        scores = np.zeros((n_splits, len(alphas)))
        for k, (train, test) in enumerate(folds.split(z, strata)):
            model = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=alphas, max_iter=self.max_iter)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(z[train], y[train])
            risks = z[test] @ model.coef_
            scores[k] = np.nan
            if not event[test].any():
                continue
            # glmnet may stop the path early: penalties it did not reach stay NaN
            for j in range(min(len(alphas), risks.shape[1])):
                scores[k, j] = concordance_index_censored(event[test], time[test], risks[:, j])[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(scores, axis=0)

    def _design(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        features = self._features(X, fit=False)
        check_clinical_columns(features, list(self.kept_features_), what="feature table")
        z = (features[self.mean_.index] - self.mean_) / self.scale_
        return z[self.kept_features_].to_numpy()

    def predict(self, X):
        """Risk score (LASSO-Cox linear predictor, higher = worse prognosis), shape (n_samples,)."""
        return self.model_.predict(self._design(X), alpha=self.alpha_)

    def predict_survival_function(self, X, return_array=False):
        """Survival functions (Breslow baseline) as in scikit-survival's ``CoxnetSurvivalAnalysis``."""
        return self.model_.predict_survival_function(self._design(X), alpha=self.alpha_, return_array=return_array)

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard functions (Breslow baseline)."""
        return self.model_.predict_cumulative_hazard_function(
            self._design(X), alpha=self.alpha_, return_array=return_array
        )

    def predict_survival_at(self, X, times):
        """Survival probabilities at ``times``: ndarray of shape (n_samples, len(times))."""
        survival = self.predict_survival_function(X, return_array=True)
        return survival_at(survival, self.unique_times_, times)
