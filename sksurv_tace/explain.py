"""Grad-CAM maps of the deep survival models on the tumour ROI (captum's ``LayerGradCam``).

Grad-CAM (Selvaraju et al., ICCV 2017) weights each channel of a convolutional layer's output
by the spatial mean of the gradient of a scalar target with respect to it, sums over channels,
keeps the positive part and upsamples to the input. Here the target is the patient's risk
``1 - S(horizon)`` (or the cumulative hazard ``-log S(horizon)``) and the layer is the last
residual stage of the ResNet, so the map shows where the CT raises the predicted risk.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["grad_cam", "plot_grad_cam", "default_layer"]


def _image_model(estimator):
    """The fitted deep image model behind ``estimator`` (itself, or ``cnn_`` of CNNCox)."""
    model = getattr(estimator, "cnn_", estimator)
    if not (hasattr(model, "net_") and hasattr(model, "prepare_inputs")):
        raise ValueError(
            f"{type(estimator).__name__} is not a fitted image model: "
            "pass a fitted FusionSurvival, CTSurvival or CNNCox"
        )
    return model


def default_layer(encoder, image_size: int):
    """The deepest ResNet stage of ``encoder`` with a feature map of at least 4 x 4 at ``image_size``.

    Examples
    --------
    >>> from sksurv_tace.models.nn import ImageEncoder
    >>> encoder = ImageEncoder("resnet18")
    >>> default_layer(encoder, 224) is encoder.backbone.layer4, default_layer(encoder, 64) is encoder.backbone.layer3
    (True, True)
    """
    for name, stride in (("layer4", 32), ("layer3", 16)):
        if image_size // stride >= 4:
            return getattr(encoder.backbone, name)
    return encoder.backbone.layer2


def grad_cam(estimator, X, *, target="risk", layer=None, relu=True, batch_size=None) -> np.ndarray:
    """Per-patient Grad-CAM heat maps on the ROI images of a fitted image model.

    Parameters
    ----------
    estimator : FusionSurvival, CTSurvival or CNNCox
        Fitted model (for :class:`~sksurv_tace.models.CNNCox`, its CT network ``cnn_``).
    X : DataFrame
        Patients (image paths and, for FusionSurvival, the clinical columns).
    target : {"risk", "cumulative_hazard"}, default="risk"
        Scalar explained: ``1 - S(horizon)`` or ``-log S(horizon)``, at the model's ``horizon``.
    layer : torch.nn.Module or None, default=None
        Layer of the module to explain; None takes the deepest residual stage whose feature map is
        at least 4 x 4 pixels: ``layer4`` (stride 32) from 128 px ROIs up, as usual for Grad-CAM,
        ``layer3`` (stride 16) for 64–127 px, else ``layer2`` — at 64 px ``layer4`` is 2 x 2 and its
        map says little about where in the ROI the evidence is.
    relu : bool, default=True
        Keep the positive part (regions that raise the target), as in the Grad-CAM paper.
    batch_size : int or None, default=None
        Patients per forward/backward pass; None uses the estimator's ``batch_size``.

    Returns
    -------
    heatmaps : ndarray of float32, shape (n_samples, image_size, image_size)
        Grad-CAM maps upsampled bilinearly to the ROI grid (not normalised).

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models.deep import CTSurvival
    >>> X, y = make_tace_cohort(8, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    >>> from sksurv_tace.preprocessing import CTPreprocessor
    >>> model = CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), max_epochs=1, verbose=0,
    ...                    random_state=0).fit(X, y)
    >>> grad_cam(model, X.iloc[:2]).shape
    (2, 32, 32)
    """
    from captum.attr import LayerAttribution, LayerGradCam

    if target not in ("risk", "cumulative_hazard"):
        raise ValueError(f"target must be 'risk' or 'cumulative_hazard'; got {target!r}")
    from sksurv_tace.models.nn import log_survival_from_logits

    model = _image_model(estimator)
    cuts = np.asarray(model.cuts_)
    n_intervals = int(np.searchsorted(cuts, float(model.horizon), side="right") - 1)
    if n_intervals < 1:
        raise ValueError(f"horizon {model.horizon} is before the first interval end {cuts[1]:g}: S(horizon) = 1")
    module = model.net_.module_
    inputs = model.prepare_inputs(X)
    layer = layer if layer is not None else default_layer(module.encoder, inputs["image"].shape[-1])
    device = model.net_.device
    has_clinical = "clinical" in inputs

    def forward(image, clinical=None):
        logits = module(image, clinical) if has_clinical else module(image)
        log_s = log_survival_from_logits(logits.float())[:, n_intervals - 1]
        return -log_s if target == "cumulative_hazard" else -torch.expm1(log_s)

    was_training = module.training
    module.eval()
    cam = LayerGradCam(forward, layer)
    size = inputs["image"].shape[-2:]
    step = int(batch_size or model.batch_size or len(X))
    maps = []
    try:
        for start in range(0, len(X), step):
            image = torch.as_tensor(inputs["image"][start : start + step], device=device)
            extra = (
                (torch.as_tensor(inputs["clinical"][start : start + step], device=device),) if has_clinical else None
            )
            attr = cam.attribute(image, additional_forward_args=extra, relu_attributions=relu)
            up = LayerAttribution.interpolate(attr, tuple(size), interpolate_mode="bilinear")
            maps.append(up[:, 0].detach().float().cpu().numpy())
    finally:
        module.train(was_training)
    return np.concatenate(maps).astype(np.float32)


def plot_grad_cam(
    estimator,
    X,
    *,
    heatmaps=None,
    target="risk",
    n_cols=4,
    alpha=0.45,
    cmap="jet",
    show_mask=True,
    titles=None,
):
    """Overlay Grad-CAM maps on the CT ROIs (central slice), with the tumour outline.

    Parameters
    ----------
    estimator : FusionSurvival, CTSurvival or CNNCox
        Fitted model.
    X : DataFrame
        Patients to show (one panel each).
    heatmaps : ndarray, optional
        Maps from :func:`grad_cam`; computed when None.
    target : {"risk", "cumulative_hazard"}, default="risk"
        Passed to :func:`grad_cam` when ``heatmaps`` is None.
    n_cols : int, default=4
        Panels per row.
    alpha : float, default=0.45
        Opacity of the heat map.
    cmap : str, default="jet"
    show_mask : bool, default=True
        Draw the tumour mask's outline in white.
    titles : list of str, optional
        Panel titles; default ``patient_id`` (or the index) and the model's risk.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models.deep import CTSurvival
    >>> X, y = make_tace_cohort(8, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    >>> from sksurv_tace.preprocessing import CTPreprocessor
    >>> model = CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), max_epochs=1, verbose=0,
    ...                    random_state=0).fit(X, y)
    >>> fig = plot_grad_cam(model, X.iloc[:3])
    >>> len(fig.axes)  # three patients and the colour bar
    4
    """
    from matplotlib.figure import Figure

    model = _image_model(estimator)
    if heatmaps is None:
        heatmaps = grad_cam(estimator, X, target=target)
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    if heatmaps.shape[0] != len(X):
        raise ValueError(f"heatmaps has {heatmaps.shape[0]} maps for {len(X)} patients")
    images, masks = model.image_preprocessor_.transform(X, return_mask=True)
    centre = images.shape[1] // 2
    if titles is None:
        ids = X["patient_id"].astype(str).tolist() if "patient_id" in X.columns else [str(i) for i in X.index]
        risk = estimator.predict(X)
        titles = [f"{pid}\nrisk {r:.2f}" for pid, r in zip(ids, risk, strict=True)]
    n = len(X)
    n_cols = max(1, min(int(n_cols), n))
    n_rows = int(np.ceil(n / n_cols))
    fig = Figure(figsize=(2.6 * n_cols, 2.8 * n_rows), layout="constrained")
    for i in range(n):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        ax.imshow(images[i, centre], cmap="gray", vmin=0.0, vmax=1.0)
        heat = heatmaps[i]
        peak = heat.max()
        ax.imshow(heat / peak if peak > 0 else heat, cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
        if peak <= 0:  # relu removed everything: no region of this ROI raises the predicted risk
            ax.text(0.5, 0.06, "no region raises the risk", transform=ax.transAxes, ha="center", va="bottom",
                    fontsize=7, color="white", bbox={"facecolor": "black", "alpha": 0.6, "lw": 0})  # fmt: skip
        if show_mask and masks[i].any():
            ax.contour(masks[i].astype(float), levels=[0.5], colors="white", linewidths=0.8)
        ax.set_title(titles[i], fontsize=8)
        ax.set_axis_off()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap=cmap), ax=fig.axes, shrink=0.8, aspect=30)
    bar.set_label("Grad-CAM / the patient's peak", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return fig
