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


def test_median_follow_up_is_the_reverse_kaplan_meier_median():
    from lifelines import KaplanMeierFitter
    from sksurv.util import Surv

    from sksurv_tace.paper.report import FOLLOW_UP

    rng = np.random.default_rng(3)
    time = rng.exponential(700, 90).round() + 1
    event = rng.random(90) < 0.6
    X = pd.DataFrame({"age": rng.normal(60, 10, 90)})
    groups = np.array(["Training"] * 70 + ["Validation"] * 20)
    table = baseline_table(X, Surv.from_arrays(event, time), groups=groups).set_index("variable")
    for group, mask in (("Training", groups == "Training"), ("Validation", groups == "Validation")):
        reverse = KaplanMeierFitter().fit(time[mask], ~event[mask]).median_survival_time_
        assert table.loc[FOLLOW_UP, f"{group} (n={mask.sum()})"] == f"{reverse:.0f}"
    assert "observed time (days)" in table.index
