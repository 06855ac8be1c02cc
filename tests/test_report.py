import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sksurv_tace.paper.report import baseline_table


def test_baseline_table_values_and_tests():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "age": rng.normal(60, 10, 80).round(),
        "sex": pd.Categorical(rng.choice(["F", "M"], 80)),
        "stage": pd.Categorical(rng.choice(["A", "B", "C"], 80)),
    })  # fmt: skip
    groups = np.array(["Training"] * 60 + ["Validation"] * 20)
    table = baseline_table(X, groups=groups)
    age = table[table["variable"] == "age"].iloc[0]
    expected_p = stats.mannwhitneyu(X["age"][:60], X["age"][60:]).pvalue
    assert age["p"] == pytest.approx(expected_p)
    q1, q2, q3 = np.percentile(X["age"][:60], [25, 50, 75])
    assert age["Training (n=60)"] == f"{q2:.2f} ({q1:.2f}–{q3:.2f})"
    stage = table[table["variable"] == "stage"]
    counts = pd.crosstab(X["stage"], groups).to_numpy()
    assert stage["p"].iloc[0] == pytest.approx(stats.chi2_contingency(counts, correction=False)[1])
    assert stage["test"].iloc[0] == "χ²"
    n_a = int(((X["stage"] == "A") & (groups == "Validation")).sum())
    assert stage["Validation (n=20)"].iloc[0] == f"{n_a} ({100 * n_a / 20:.1f})"


def test_fisher_for_small_2x2():
    X = pd.DataFrame({"hbv": pd.Categorical(["No"] * 3 + ["Yes"] * 17 + ["Yes"] * 10)})
    groups = ["T"] * 20 + ["V"] * 10
    row = baseline_table(X, groups=groups).iloc[0]
    assert row["test"] == "Fisher"
    assert row["p"] == pytest.approx(stats.fisher_exact([[3, 0], [17, 10]]).pvalue)


def test_bad_input():
    with pytest.raises(ValueError, match="groups has 2 entries"):
        baseline_table(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), groups=["x", "y"])
