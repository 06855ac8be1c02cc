"""The ``score`` all survival estimators share: scikit-survival's, on a checked target."""

from __future__ import annotations

from sksurv.base import SurvivalAnalysisMixin

from sksurv_tace._validation import as_survival_array, check_survival_target


class SurvivalScoreMixin(SurvivalAnalysisMixin):
    """scikit-survival's mixin whose ``score`` accepts what ``fit`` accepts (a 0/1 integer event field too)."""

    def score(self, X, y):
        """Harrell's concordance index of ``predict(X)`` on ``y`` (:func:`sksurv.metrics.concordance_index_censored`).

        Parameters
        ----------
        X : DataFrame
        y : structured array
            Event (bool or 0/1) and time fields.

        Returns
        -------
        float
        """
        event, time = check_survival_target(y, n_samples=len(X), require_event=False)
        return super().score(X, as_survival_array(event, time))
