"""The predict/survival methods the three Cox models share (as scikit-learn's ``_BaseRidge``)."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sksurv_tace._survival import survival_at
from sksurv_tace.models._score import SurvivalScoreMixin


class _CoxBase(SurvivalScoreMixin, BaseEstimator):
    """A fitted scikit-survival Cox model ``model_`` applied to ``self._design(X)``.

    Subclasses implement ``_design(X) -> ndarray`` (checking it is fitted) and may pass extra
    keyword arguments to the model's methods through ``_model_kwargs`` (Coxnet's ``alpha``).
    """

    def _model_kwargs(self) -> dict:
        return {}

    def _fitted_model(self):
        check_is_fitted(self, "model_")
        return self.model_

    def predict(self, X):
        """Risk score: the Cox linear predictor (higher = worse prognosis).

        Parameters
        ----------
        X : DataFrame

        Returns
        -------
        ndarray of float64, shape (n_samples,)
        """
        return self._fitted_model().predict(self._design(X), **self._model_kwargs())

    def predict_survival_function(self, X, return_array=False):
        """Survival functions (Breslow baseline), as in scikit-survival's Cox models.

        Parameters
        ----------
        X : DataFrame
        return_array : bool, default=False
            If True, an array of ``S`` at ``unique_times_``; else ``StepFunction`` objects.

        Returns
        -------
        ndarray
        """
        return self._fitted_model().predict_survival_function(
            self._design(X), return_array=return_array, **self._model_kwargs()
        )

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard functions (Breslow baseline), as in scikit-survival's Cox models.

        Parameters
        ----------
        X : DataFrame
        return_array : bool, default=False

        Returns
        -------
        ndarray
        """
        return self._fitted_model().predict_cumulative_hazard_function(
            self._design(X), return_array=return_array, **self._model_kwargs()
        )

    def predict_survival_at(self, X, times):
        """Survival probabilities at ``times`` (step function, ``S = 1`` before the first event time).

        Parameters
        ----------
        X : DataFrame
        times : float or sequence of float

        Returns
        -------
        ndarray of float64, shape (n_samples, len(times))
        """
        return survival_at(self.predict_survival_function(X, return_array=True), self.unique_times_, times)
