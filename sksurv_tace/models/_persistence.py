"""Model files: :func:`dump_model` and :func:`load_model`, with a CNNCox that refers to its CT network's file.

A fitted :class:`~sksurv_tace.models.CNNCox` holds its CT network (``cnn_``, a fitted
:class:`~sksurv_tace.models.CTSurvival`). ``joblib.dump`` of it is self-contained, so next to the
CTSurvival file it stores the network a second time. ``dump_model(model, path, cnn_file=...)`` writes
the CNNCox with the network replaced by the name of the file that holds it, and :func:`load_model`
puts it back; ``reproduce`` saves ``models/CNNCox.joblib`` this way.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

import joblib

__all__ = ["dump_model", "load_model"]


class _NetworkFile:
    """Stands for CNNCox's CT network in a file written by ``dump_model(..., cnn_file=...)``."""

    def __init__(self, file: str, fingerprint: str):
        self.file = file
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"<CT network saved in {self.file!r}: read it with sksurv_tace.models.load_model>"

    def missing(self) -> ValueError:
        """The error a CNNCox loaded without its network raises when used."""
        return ValueError(
            f"this CNNCox was saved without its CT network, which is in the file {self.file!r} next to the model "
            "file; load the model with sksurv_tace.models.load_model(<model file>), which reads both"
        )


def _fingerprint(cnn) -> str:
    """SHA-256 of the network's weights, in ``state_dict`` order."""
    digest = hashlib.sha256()
    for name, tensor in cnn.net_.module_.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def dump_model(model, filename, *, cnn_file=None, compress=0) -> list[str]:
    """Save a fitted model with joblib; a CNNCox may refer to its CT network's file instead of copying it.

    Parameters
    ----------
    model : estimator
        A fitted model of :mod:`sksurv_tace.models`.
    filename : str or path-like
    cnn_file : str or path-like, optional
        Only for a :class:`~sksurv_tace.models.CNNCox`: the file holding its fitted CT network
        (``cnn_``), saved separately (e.g. ``joblib.dump(model.cnn_, cnn_file)``). The CNNCox file then
        stores this file's path relative to ``filename``'s folder and a SHA-256 of the network's weights
        instead of the network; keep the two files in one folder (or at the same relative place) and load
        with :func:`load_model`. ``joblib.load`` alone gives a model that raises a ``ValueError`` naming
        ``cnn_file`` when it predicts. None (default) writes a self-contained file, as ``joblib.dump``.
    compress : int, default=0
        Passed to :func:`joblib.dump`.

    Returns
    -------
    list of str
        The file written, as :func:`joblib.dump` returns it.

    Examples
    --------
    >>> import joblib, tempfile
    >>> from pathlib import Path
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import CNNCox, CTSurvival
    >>> from sksurv_tace.preprocessing import CTPreprocessor
    >>> folder = Path(tempfile.mkdtemp())
    >>> X, y = make_tace_cohort(16, path=folder / "cohort", image_shape=(8, 48, 48), random_state=0)
    >>> cnn = CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), max_epochs=1, batch_size=8, verbose=0,
    ...                  random_state=0).fit(X, y)
    >>> model = CNNCox(cnn, prefit=True, select_clinical=False, clinical_columns=["mvi"], alpha=0.1).fit(X, y)
    >>> _ = joblib.dump(cnn, folder / "CTSurvival.joblib")
    >>> _ = dump_model(model, folder / "CNNCox.joblib", cnn_file=folder / "CTSurvival.joblib")
    >>> (folder / "CNNCox.joblib").stat().st_size < (folder / "CTSurvival.joblib").stat().st_size / 10
    True
    >>> reloaded = load_model(folder / "CNNCox.joblib")
    >>> bool((reloaded.predict(X) == model.predict(X)).all())
    True
    """
    if cnn_file is None:
        return joblib.dump(model, filename, compress=compress)
    cnn = getattr(model, "cnn_", None)
    if cnn is None or not hasattr(cnn, "net_"):
        raise ValueError(f"cnn_file= is for a fitted CNNCox; got a {type(model).__name__} without a fitted cnn_")
    folder = Path(filename).resolve().parent
    relative = Path(os.path.relpath(Path(cnn_file).resolve(), folder)).as_posix()
    reference = _NetworkFile(relative, _fingerprint(cnn))
    lean = copy.copy(model)  # shallow: the fitted model keeps its network
    lean.cnn_ = reference
    if model.cnn is cnn:  # prefit=True: the parameter is the same network
        lean.cnn = reference
    return joblib.dump(lean, filename, compress=compress)


def load_model(filename):
    """Load a model saved by :func:`dump_model` or ``joblib.dump``; a CNNCox gets its CT network back.

    Parameters
    ----------
    filename : str or path-like

    Returns
    -------
    estimator

    Raises
    ------
    FileNotFoundError
        A CNNCox whose network file (named in the message) is not where it was saved.
    ValueError
        That file holds another network than the one the CNNCox was fitted with.

    Examples
    --------
    >>> import joblib, tempfile
    >>> from pathlib import Path
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import ClinicalCox
    >>> X, y = make_tace_cohort(60, path=tempfile.mkdtemp(), with_images=False, random_state=0)
    >>> path = Path(tempfile.mkdtemp()) / "ClinicalCox.joblib"
    >>> _ = dump_model(ClinicalCox().fit(X, y), path)
    >>> type(load_model(path)).__name__
    'ClinicalCox'
    """
    model = joblib.load(filename)
    reference = getattr(model, "cnn_", None)
    if not isinstance(reference, _NetworkFile):
        return model
    path = Path(filename).parent / reference.file
    if not path.is_file():
        raise FileNotFoundError(
            f"{filename} refers to its CT network in the file {path} ({reference.file!r} from the model's folder), "
            "which does not exist; keep the two files where they were saved"
        )
    cnn = joblib.load(path)
    if not hasattr(cnn, "net_") or _fingerprint(cnn) != reference.fingerprint:
        raise ValueError(f"{path} does not hold the CT network {filename} was fitted with (its weights differ)")
    model.cnn_ = cnn
    if isinstance(model.cnn, _NetworkFile):
        model.cnn = cnn
    return model
