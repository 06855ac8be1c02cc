"""Patient table -> model inputs: clinical encoding, the Cox screen, CT tumour ROIs and radiomics features."""

from .clinical import ClinicalPreprocessor, clinical_columns, is_categorical  # noqa: F401
from .cox_screen import CoxFeatureSelector, cox_table, factor_groups  # noqa: F401
from .cox_separation import infinite_coefficients  # noqa: F401
from .dicom import SEG_SOP_CLASS_UID, dicom_seg_segments, is_dicom_seg, read_dicom_seg, select_segments  # noqa: F401
from .image_checks import check_image_paths, find_image_problems  # noqa: F401
from .imaging import CTPreprocessor, read_image  # noqa: F401
from .lesions import BURDEN_COLUMNS, LESION_MODES, LesionBurden, label_lesions, lesion_burden, lesion_masks  # noqa: F401
from .radiomics import DEFAULT_CT_SETTINGS, RadiomicsExtractor, peritumoral_ring  # noqa: F401

__all__ = [
    "ClinicalPreprocessor",
    "clinical_columns",
    "is_categorical",
    "CoxFeatureSelector",
    "cox_table",
    "factor_groups",
    "infinite_coefficients",
    "CTPreprocessor",
    "read_image",
    "LesionBurden",
    "label_lesions",
    "lesion_burden",
    "lesion_masks",
    "LESION_MODES",
    "BURDEN_COLUMNS",
    "read_dicom_seg",
    "dicom_seg_segments",
    "select_segments",
    "is_dicom_seg",
    "SEG_SOP_CLASS_UID",
    "check_image_paths",
    "find_image_problems",
    "RadiomicsExtractor",
    "DEFAULT_CT_SETTINGS",
    "peritumoral_ring",
]
