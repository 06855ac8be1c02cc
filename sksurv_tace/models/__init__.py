"""The paper's five survival models, each a scikit-survival estimator, the clinical branch they share, and a
tumour-burden baseline (TumourBurdenCox)."""

from ._persistence import dump_model, load_model  # noqa: F401
from .clinical_branch import ClinicalBranch  # noqa: F401
from .clinical_cox import ClinicalCox  # noqa: F401
from .cnn_cox import CNNCox  # noqa: F401
from .deep import CTSurvival, FusionSurvival  # noqa: F401
from .radiomics_cox import RadiomicsCox  # noqa: F401
from .recalibration import RecalibratedSurvival, breslow_baseline  # noqa: F401
from .tumour_burden_cox import BURDEN_FEATURES, TumourBurdenCox  # noqa: F401

__all__ = [
    "FusionSurvival",
    "CTSurvival",
    "CNNCox",
    "RadiomicsCox",
    "ClinicalCox",
    "TumourBurdenCox",
    "BURDEN_FEATURES",
    "ClinicalBranch",
    "RecalibratedSurvival",
    "breslow_baseline",
    "dump_model",
    "load_model",
]
