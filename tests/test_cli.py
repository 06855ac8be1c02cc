import pandas as pd

from sksurv_tace import __version__
from sksurv_tace.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_cohort_command(tmp_path, capsys):
    out = tmp_path / "cohort"
    assert main(["cohort", "--out", str(out), "--n-patients", "12", "--seed", "1", "--no-images"]) == 0
    printed = capsys.readouterr().out
    assert "Table 1" in printed and "bclc_b_subclass" in printed
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest) == 12
    table1 = pd.read_csv(out / "table1.csv")
    assert {"variable", "level", "p"} <= set(table1.columns)
    # a second run into the same folder is refused with a clear message, not overwritten
    assert main(["cohort", "--out", str(out), "--n-patients", "12", "--no-images"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_fit_predict_evaluate(tmp_path, capsys):
    from sksurv_tace.datasets.synthetic import make_tace_cohort

    make_tace_cohort(80, path=tmp_path / "cohort", with_images=False, random_state=0)
    manifest = str(tmp_path / "cohort" / "manifest.csv")
    model = str(tmp_path / "clinical.joblib")
    assert main(["fit", "--manifest", manifest, "--model", "ClinicalCox", "--out", model]) == 0
    predictions = str(tmp_path / "pred.csv")
    assert main(["predict", "--manifest", manifest, "--model", model, "--out", predictions]) == 0
    table = pd.read_csv(predictions)
    assert list(table.columns) == ["patient_id", "risk", "survival_365", "survival_730", "survival_1095", "risk_group",
                                   "risk_cutoff", "cutoff_source"]  # fmt: skip
    assert (table["survival_365"] >= table["survival_1095"]).all()
    capsys.readouterr()
    assert main(["evaluate", "--manifest", manifest, "--predictions", predictions, "--n-bootstrap", "50"]) == 0
    assert "Harrell's C-index" in capsys.readouterr().out
    # an image model on a cohort without images, an existing output file: errors in words
    assert main(["fit", "--manifest", manifest, "--model", "FusionSurvival", "--out", str(tmp_path / "f")]) == 2
    assert "FusionSurvival needs CT images" in capsys.readouterr().err
    assert main(["predict", "--manifest", manifest, "--model", model, "--out", predictions]) == 2
    assert "already exists" in capsys.readouterr().err


def test_reproduce_on_a_manifest_without_images(tmp_path, capsys):
    from sksurv_tace.datasets.hcc_tace_seg import load_hcc_tace_seg
    from sksurv_tace.datasets.manifest import write_manifest

    X, y = load_hcc_tace_seg(paper_factors=True)
    manifest = write_manifest(tmp_path / "hcc.csv", X, y)
    out = tmp_path / "report"
    # missing clinical values are refused in words, nothing is written
    assert main(["reproduce", "--manifest", str(manifest), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "missing clinical values (response (6: " in err and "--impute median" in err and "impute=" not in err
    missing_patients = X.loc[X["response"].isna(), "patient_id"].astype(str).tolist()
    assert missing_patients[0] in err  # the patients are named
    assert not out.exists()
    args = ["reproduce", "--manifest", str(manifest), "--out", str(out), "--impute", "median", "--n-bootstrap", "50"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "[skip] FusionSurvival" in printed and "ClinicalCox" in printed
    assert "Not run: FusionSurvival" in printed and "only ClinicalCox ran" in printed
    assert " NaN" not in printed
    assert (out / "report.html").exists() and (out / "table4.csv").exists()
    assert pd.read_csv(out / "table4.csv")["model"].unique().tolist() == ["ClinicalCox"]


def test_device_cuda_without_a_gpu_is_refused_before_any_work(tmp_path, capsys):
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "out"
    assert main(["reproduce", "--quick", "--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CUDA is not available" in err[0] and "Traceback" not in err[0]
    assert not (out / "cohort").exists()  # refused before the cohort was written


def test_cli_messages_are_one_line_with_exit_code_2(tmp_path, capsys):
    from sksurv_tace.datasets.synthetic import make_tace_cohort

    make_tace_cohort(60, path=tmp_path / "cohort", with_images=False, random_state=0)
    manifest = str(tmp_path / "cohort" / "manifest.csv")
    cases = {
        "unknown model 'ClinicalCoxx'": ["fit", "--manifest", manifest, "--model", "ClinicalCoxx", "--out",
                                         str(tmp_path / "a.joblib")],
        "CTSurvival needs CT images": ["fit", "--manifest", manifest, "--model", "CTSurvival", "--out",
                                       str(tmp_path / "b.joblib")],
        "is not a model saved by 'sksurv-tace fit'": ["predict", "--manifest", manifest, "--model", manifest,
                                                      "--out", str(tmp_path / "p.csv")],
    }  # fmt: skip
    for expected, argv in cases.items():
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0] and "Traceback" not in err[0], err


_PROGRESS_MARKS = ("%|", "it/s]", "s/it]", "patient/s", "patients/s", "epoch ", "[split]", "[figures]")


def test_quiet_shows_no_progress(tmp_path, capsys):
    """Issue 15: ``--quiet`` silences every progress display (tqdm bars, epoch tables, step lines)."""
    from sksurv_tace.datasets.synthetic import make_tace_cohort

    make_tace_cohort(60, path=tmp_path / "clinical", with_images=False, random_state=0)
    clinical = str(tmp_path / "clinical" / "manifest.csv")
    loud = ["reproduce", "--manifest", clinical, "--n-bootstrap", "30", "--out", str(tmp_path / "loud")]
    assert main(loud) == 0
    shown = capsys.readouterr()
    assert "[split]" in shown.out  # without --quiet: the step lines
    quiet = {
        "cohort": ["cohort", "--out", str(tmp_path / "images"), "--n-patients", "20", "--quiet"],
        "reproduce": ["reproduce", "--manifest", clinical, "--n-bootstrap", "30", "--out", str(tmp_path / "q"),
                      "--quiet"],
        "fit": ["fit", "--manifest", str(tmp_path / "images" / "manifest.csv"), "--model", "CTSurvival", "--quick",
                "--n-jobs", "2", "--out", str(tmp_path / "ct.joblib"), "--quiet"],
    }  # fmt: skip
    for name, argv in quiet.items():
        assert main(argv) == 0, name
        printed = capsys.readouterr()
        for mark in _PROGRESS_MARKS:
            assert mark not in printed.out + printed.err, f"{name} --quiet printed {mark!r}"
    assert "Validation cohort, ours next to the paper" not in printed.out  # the fit's own result line only
