"""What a command-line user sees on stderr (issue 15): no traceback, no third-party warning, no leaked-resource
report; a bad cohort refused at once with every bad patient named; ``--verbose`` shows the rest."""

import os
import subprocess
import sys
import warnings

import pytest
from test_image_checks import BAD, _break_five  # tests/ is on sys.path (pytest's default import mode)

from sksurv_tace import cli
from sksurv_tace.datasets import make_tace_cohort


def _run(*argv, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run([sys.executable, "-m", "sksurv_tace.cli", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def _assert_clean(stderr: str) -> None:
    for unwanted in ("Traceback", "resource_tracker", "leaked", "Warning:", "ImageIO"):
        assert unwanted not in stderr, f"{unwanted!r} on stderr:\n{stderr}"


def test_cli_end_to_end_leaves_stderr_clean(tmp_path):
    """fit (radiomics in two joblib worker processes), predict and evaluate on a small cohort with images."""
    make_tace_cohort(30, path=tmp_path / "cohort", image_shape=(8, 32, 32), random_state=0)
    manifest, model = str(tmp_path / "cohort" / "manifest.csv"), str(tmp_path / "model.joblib")
    runs = {
        "fit": ["fit", "--manifest", manifest, "--model", "RadiomicsCox", "--quick", "--n-jobs", "2", "--out", model],
        "predict": ["predict", "--manifest", manifest, "--model", model, "--out", str(tmp_path / "p.csv")],
        "evaluate": ["evaluate", "--manifest", manifest, "--predictions", str(tmp_path / "p.csv"),
                     "--n-bootstrap", "20"],
    }  # fmt: skip
    for name, argv in runs.items():
        code, out, err = _run(*argv, cwd=tmp_path)
        assert code == 0, f"{name}:\n{err}"
        _assert_clean(err)
    assert "Harrell's C-index" in out


def test_bad_cohort_exits_with_code_2_naming_every_bad_patient(tmp_path):
    manifest = str(_break_five(tmp_path / "cohort"))
    out = tmp_path / "out"
    commands = (
        ["reproduce", "--quick", "--manifest", manifest, "--out", str(out)],
        ["fit", "--model", "CTSurvival", "--quick", "--manifest", manifest, "--out", str(tmp_path / "m")],
    )
    for argv in commands:
        code, _, err = _run(*argv, cwd=tmp_path)
        assert code == 2, err
        _assert_clean(err)
        first, *rest = err.strip().splitlines()
        assert first.startswith(f"sksurv-tace {argv[0]}: error: the image files of 5 of 8 patient(s) cannot be used")
        named = [line.strip().split(":")[0] for line in rest if line.startswith("    patient ")]
        assert named == [f"patient {p}" for p in BAD]  # each once, grouped by problem, nothing else
        assert len(rest) == 2 * len(BAD)  # a heading and a line per problem: short
    assert not out.exists() and not (tmp_path / "m").exists()


def test_unexpected_error_is_one_line_and_verbose_shows_the_traceback(tmp_path, monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("a library failed\nwith a second line")

    monkeypatch.setattr(cli, "_evaluate", broken)
    argv = ["evaluate", "--manifest", "m.csv", "--predictions", "p.csv"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sksurv-tace evaluate: unexpected error: RuntimeError: a library failed "
                   "(run again with --verbose for the traceback)"]  # fmt: skip
    with pytest.raises(RuntimeError, match="a library failed"):
        cli.main([*argv, "--verbose"])


def test_third_party_warnings_are_hidden_unless_verbose(monkeypatch, capsys):
    ours = os.path.join(os.path.dirname(cli.__file__), "metrics", "clinical.py")

    def warns(args):
        warnings.warn_explicit("calibration slope is NaN", RuntimeWarning, ours, 1)
        warnings.warn_explicit("a worker stopped", UserWarning, "/site-packages/joblib/x.py", 2)
        warnings.warn_explicit("old API", FutureWarning, ours, 3)
        return 0

    monkeypatch.setattr(cli, "_evaluate", warns)
    argv = ["evaluate", "--manifest", "m.csv", "--predictions", "p.csv"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sksurv-tace: warning: calibration slope is NaN",
                   "sksurv-tace: 2 warning(s) of other libraries not shown (--verbose shows them)"]  # fmt: skip
    assert "PYTHONWARNINGS" not in os.environ or os.environ["PYTHONWARNINGS"] != "ignore"  # restored
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli.main([*argv, "--verbose"]) == 0
    assert [str(w.message) for w in caught] == ["calibration slope is NaN", "a worker stopped", "old API"]
