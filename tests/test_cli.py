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
