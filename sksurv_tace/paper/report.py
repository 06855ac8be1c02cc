"""Tables of a clinical survival paper, as pandas DataFrames."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sksurv.nonparametric import kaplan_meier_estimator

from sksurv_tace.paper.formatting import HR_DIGITS, METRIC_DIGITS, factor_label, format_ci, format_p
from sksurv_tace.preprocessing.clinical import clinical_columns, is_categorical

__all__ = [
    "baseline_table",
    "display_table2",
    "display_table3",
    "display_table4",
    "markdown_table",
    "write_report",
    "report_from_results",
    "read_results",
]


def _median_iqr(values: pd.Series) -> str:
    q1, q2, q3 = np.nanpercentile(values.astype(float), [25, 50, 75])
    return f"{q2:.2f} ({q1:.2f}–{q3:.2f})"


def _categorical_p(table: np.ndarray) -> tuple[float, str]:
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return np.nan, ""
    chi2, p, _, expected = stats.chi2_contingency(table, correction=False)
    if table.shape == (2, 2) and (expected < 5).any():
        return float(stats.fisher_exact(table).pvalue), "Fisher"
    return float(p), "χ²"


def baseline_table(X: pd.DataFrame, y=None, *, groups=None, columns=None, units=None) -> pd.DataFrame:
    """Table 1: baseline characteristics, overall or by group, with p-values between groups.

    Continuous columns are summarised as median (interquartile range) and compared with
    the Mann–Whitney U test (Kruskal–Wallis for more than two groups); categorical
    columns as n (%) per level, compared with Pearson's χ² test, or Fisher's exact test
    for a 2×2 table with an expected count below 5.

    Parameters
    ----------
    X : DataFrame
        One row per patient. ``patient_id``, ``ct`` and ``mask`` are skipped.
    y : structured array, optional
        Survival target; adds the number of deaths, the observed times (days) and the median
        follow-up by the reverse Kaplan–Meier method (censoring as the event), the usual
        follow-up summary (the median observed time understates it when many patients died).
    groups : array-like of shape (n_samples,), optional
        Group label of each patient (e.g. "Training"/"Validation").
    columns : list of str, optional
        Columns to summarise; default all clinical columns.
    units : mapping of str to str, optional
        Column -> unit, printed in brackets after a numeric column's name (``"afp [ng/mL]"``);
        :func:`~sksurv_tace.paper.run_protocol` passes :data:`sksurv_tace.datasets.CLINICAL_UNITS`.

    Returns
    -------
    DataFrame
        Columns ``variable``, ``level``, one column per group (or ``All``), ``p`` and ``test``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [50, 60, 70, 80], "sex": pd.Categorical(["M", "F", "M", "M"])})
    >>> baseline_table(X, units={"age": "years"})[["variable", "level", "All"]].values.tolist()
    [['age [years]', '', '65.00 (57.50–72.50)'], ['sex', 'F', '1 (25.0)'], ['sex', 'M', '3 (75.0)']]
    """
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"X must be a pandas DataFrame, got {type(X).__name__}")
    data = X.reset_index(drop=True).copy()
    if y is not None:
        if len(y) != len(X):
            raise ValueError(f"y has {len(y)} rows but X has {len(X)}")
        names = y.dtype.names
        data["deaths"] = pd.Categorical(np.where(y[names[0]], "Yes", "No"), categories=["No", "Yes"])
        data["observed time [days]"] = np.asarray(y[names[1]], dtype=float)
    columns = list(columns) if columns is not None else clinical_columns(data)
    if groups is None:
        labels = np.array(["All"] * len(data), dtype=object)
    else:
        labels = np.asarray(groups, dtype=object)
        if len(labels) != len(data):
            raise ValueError(f"groups has {len(labels)} entries but X has {len(data)} rows")
    order = list(dict.fromkeys(labels))
    headers = [f"{g} (n={int((labels == g).sum())})" if groups is not None else g for g in order]
    rows = []
    for column in columns:
        series = data[column]
        if is_categorical(series):
            levels = (
                list(series.cat.categories)
                if isinstance(series.dtype, pd.CategoricalDtype)
                else sorted(series.dropna().unique().tolist())
            )
            counts = np.array([[int(((series == lvl) & (labels == g)).sum()) for g in order] for lvl in levels])
            p, test = _categorical_p(counts) if len(order) > 1 else (np.nan, "")
            for i, level in enumerate(levels):
                cells = {
                    h: f"{counts[i, j]} ({100 * counts[i, j] / max((labels == g).sum(), 1):.1f})"
                    for j, (g, h) in enumerate(zip(order, headers, strict=True))
                }
                rows.append({"variable": column, "level": str(level), **cells, "p": p if i == 0 else np.nan,
                             "test": test if i == 0 else ""})  # fmt: skip
        else:
            values = [series[labels == g].dropna().astype(float) for g in order]
            cells = {h: _median_iqr(v) for h, v in zip(headers, values, strict=True)}
            p, test = np.nan, ""
            if len(order) == 2 and all(len(v) for v in values):
                p, test = float(stats.mannwhitneyu(*values).pvalue), "Mann–Whitney"
            elif len(order) > 2 and all(len(v) for v in values):
                p, test = float(stats.kruskal(*values).pvalue), "Kruskal–Wallis"
            label = factor_label(column, (units or {}).get(column))
            rows.append({"variable": label, "level": "", **cells, "p": p, "test": test})
    if y is not None:
        event, time = np.asarray(y[names[0]], dtype=bool), np.asarray(y[names[1]], dtype=float)
        cells = {
            h: _median_follow_up(event[labels == g], time[labels == g]) for g, h in zip(order, headers, strict=True)
        }
        rows.append({"variable": FOLLOW_UP, "level": "", **cells, "p": np.nan, "test": ""})
    return pd.DataFrame(rows, columns=["variable", "level", *headers, "p", "test"])


#: Table 1's row of the median follow-up (reverse Kaplan–Meier: censoring is the event).
FOLLOW_UP = "median follow-up [days] (reverse Kaplan–Meier)"


def _median_follow_up(event: np.ndarray, time: np.ndarray) -> str:
    if len(time) == 0 or event.all():
        return ""
    times, censoring_free = kaplan_meier_estimator(~event, time)
    below = np.flatnonzero(censoring_free <= 0.5)
    return f"{times[below[0]]:.0f}" if below.size else f"not reached (> {times[-1]:.0f})"


def _fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:.{digits}f}"
    return str(value)


def display_table2(table: pd.DataFrame) -> pd.DataFrame:
    """Table 2 as printed in a paper: HR (95% CI) and p, univariable and multivariable.

    Parameters
    ----------
    table : DataFrame
        As made by :func:`sksurv_tace.preprocessing.cox_table` (``HR_uni``, ``HR_lower_uni``, … columns);
        an optional ``unit`` column (what one step of a numeric factor is, e.g. ``"log ng/mL"`` for
        ``log1p(afp)``) is printed in brackets after the factor.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> t = pd.DataFrame([dict(factor="mvi", level="Yes", reference="No", HR_uni=1.5, HR_lower_uni=1.1,
    ...     HR_upper_uni=2.0, p_uni=0.01, HR_multi=float("nan"), HR_lower_multi=float("nan"),
    ...     HR_upper_multi=float("nan"), p_multi=float("nan"))])
    >>> display_table2(t).values.tolist()
    [['mvi', 'Yes vs No', '1.50 (1.10–2.00)', '0.010', '', '']]
    >>> afp = t.assign(factor="log1p(afp)", level="", reference="", unit="log ng/mL")
    >>> display_table2(afp)["factor"].tolist()
    ['log1p(afp) [log ng/mL]']
    """
    rows = []
    for _, r in table.iterrows():
        level = f"{r['level']} vs {r['reference']}" if str(r.get("level", "")) not in ("", "nan") else ""
        row = {"factor": r["factor"] if level else factor_label(r["factor"], r.get("unit")), "level": level}
        for stage, label in (("uni", "univariable"), ("multi", "multivariable")):
            hr = r.get(f"HR_{stage}", np.nan)
            bounds = (r.get(f"HR_lower_{stage}", np.nan), r.get(f"HR_upper_{stage}", np.nan))
            row[f"{label} HR (95% CI)"] = format_ci(hr, *bounds, digits=HR_DIGITS)
            row[f"{label} p"] = format_p(r.get(f"p_{stage}", np.nan), missing="")
        rows.append(row)
    return pd.DataFrame(rows)


def display_table3(table: pd.DataFrame) -> pd.DataFrame:
    """Table 3 as printed in a paper: TD AUC (95% CI) and the operating-point metrics per cohort.

    Examples
    --------
    >>> keys = ("td_auc", "td_auc_lower", "td_auc_upper", "accuracy", "sensitivity", "specificity", "ppv", "npv")
    >>> values = {f"{c}_{k}": 0.8 for c in ("training", "validation") for k in keys}
    >>> t = pd.DataFrame([{"model": "m", "youden_cutoff": 0.5, **values}])
    >>> display_table3(t).iloc[0]["validation TD AUC (95% CI)"]
    '0.800 (0.800–0.800)'
    """
    rows = []
    for _, r in table.iterrows():
        row = {"model": r["model"], "cut-off": _fmt(r["youden_cutoff"])}
        for cohort in ("training", "validation"):
            auc = (r[f"{cohort}_td_auc"], r[f"{cohort}_td_auc_lower"], r[f"{cohort}_td_auc_upper"])
            row[f"{cohort} TD AUC (95% CI)"] = format_ci(*auc, digits=METRIC_DIGITS)
            for key, label in (("accuracy", "ACC"), ("sensitivity", "SEN"), ("specificity", "SPE"), ("ppv", "PPV"),
                               ("npv", "NPV")):  # fmt: skip
                row[f"{cohort} {label}"] = _fmt(r[f"{cohort}_{key}"], METRIC_DIGITS)
        rows.append(row)
    return pd.DataFrame(rows)


def display_table4(table: pd.DataFrame) -> pd.DataFrame:
    """Table 4 as printed in a paper: Harrell's C (95% CI), p against FusionSurvival, FDR-adjusted p.

    Examples
    --------
    >>> t = pd.DataFrame([dict(model="m", cohort="validation", estimate=0.7, lower=0.6, upper=0.8, p_vs_fusion=0.01,
    ...                        p_fdr=0.02)])
    >>> display_table4(t).values.tolist()
    [['m', '0.700 (0.600–0.800)', '0.010', '0.020']]
    """
    out = {}
    for cohort, part in table.groupby("cohort", sort=False):
        out[cohort] = part.set_index("model")
    models = list(dict.fromkeys(table["model"]))
    rows = []
    for model in models:
        row = {"model": model}
        for cohort, part in out.items():
            if model not in part.index:
                continue
            r = part.loc[model]
            prefix = "" if len(out) == 1 else f"{cohort} "
            row[f"{prefix}C-index (95% CI)"] = format_ci(r["estimate"], r["lower"], r["upper"], digits=METRIC_DIGITS)
            row[f"{prefix}p"] = format_p(r["p_vs_fusion"], missing="")
            row[f"{prefix}p (FDR)"] = format_p(r["p_fdr"], missing="")
        rows.append(row)
    return pd.DataFrame(rows)


def _display_p_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1: its ``p`` column by the report's p-value rule (``<0.001``, else 3 decimals)."""
    return table.assign(p=table["p"].map(lambda p: format_p(p, missing=""))) if "p" in table else table


def _display_oracle(table: pd.DataFrame) -> pd.DataFrame:
    """The oracle rows: C-index and TD AUC with their CIs in the tables' one format."""
    shown = pd.DataFrame({"model": table["model"], "cohort": table["cohort"]})
    shown["C-index (95% CI)"] = [format_ci(*r) for r in table[["c_index", "c_lower", "c_upper"]].to_numpy()]
    auc = table[["td_auc", "td_auc_lower", "td_auc_upper"]].to_numpy()
    shown["TD AUC (95% CI)"] = [format_ci(*r) for r in auc]
    return shown


def _display_table_s1(table: pd.DataFrame) -> pd.DataFrame:
    """Table S1 as printed: per model, the multivariable HR (95% CI) and p of its output and the factors."""
    blocks = []
    for model, block in table.groupby("model", sort=False):
        shown = display_table2(block.assign(reference=block["reference"].fillna("")))
        shown = shown[[c for c in shown.columns if "univariable" not in c]]
        blocks.append(shown.assign(model=model)[["model", *shown.columns]])
    return pd.concat(blocks, ignore_index=True)


def _display_repeats_tests(table: pd.DataFrame) -> pd.DataFrame:
    """The paired tests over splits, with a verdict per row."""
    verdict = ["significant" if p < 0.05 else "not significant" for p in table["p_fdr"].fillna(1.0)]
    shown = table.assign(p_value=table["p_value"].map(lambda p: format_p(p, missing="")),
                         p_fdr=table["p_fdr"].map(lambda p: format_p(p, missing="")), verdict=verdict)  # fmt: skip
    return shown.drop(columns=["reference"])


def _display_pvalue_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """The pairwise TD AUC tests: every cell a p-value by the report's p-value rule."""
    return table.assign(**{c: table[c].map(lambda p: format_p(p, missing="")) for c in table.columns if c != "model"})


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A DataFrame as a GitHub-flavoured markdown table (no extra dependency).

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"a": [1.23456], "b": ["x"]})))
    | a | b |
    |---|---|
    | 1.235 | x |
    """
    header = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(_fmt(v, digits) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


_SECTIONS = [
    ("table1", "Table 1. Baseline characteristics", _display_p_columns),
    ("table2", "Table 2. Univariable and multivariable Cox regression of clinical factors (training cohort; "
     "multivariable: factors with univariable p < 0.05; a numeric factor's HR is per one unit in brackets, "
     "log1p(x) = ln(1 + x))", display_table2),
    ("table_s1", "Table S1. Multivariable Cox regression of the training cohort: each deep model's output (per SD "
     "of its training risk) beside the clinical factors of Table 2's model (the output is scored on the patients "
     "the net was trained on, as in the paper, so its HR is optimistic)", _display_table_s1),
    ("table3", "Table 3. 3-year time-dependent AUC and operating point at the training Youden cut-off",
     display_table3),
    ("table4", "Table 4. Harrell's C-index, tests against FusionSurvival (paired bootstrap), BH-FDR",
     display_table4),
    ("oracle", "Oracle: the true risk of the synthetic cohort", _display_oracle),
    ("comparison", "Validation cohort: ours next to the paper", None),
    ("repeats", "Repeated splits: validation C-index and TD AUC, mean and SD", None),
    ("repeats_tests", "Repeated splits: each model against FusionSurvival, corrected resampled t-test (Nadeau & "
     "Bengio 2003) over the splits, BH-FDR; a difference with FDR-adjusted p ≥ 0.05 is not significant",
     _display_repeats_tests),
    ("auc_pvalues", "Pairwise TD AUC comparisons (validation, iid test, BH-FDR adjusted p)",
     _display_pvalue_matrix),
    ("training", "Deep models: epochs run, the kept (best) epoch and the internal-validation loss at epoch 1 and "
     "at the kept epoch", None),
    ("notes", "Notes", None),
]  # fmt: skip

_FIGURE_TITLES = {
    "td_roc_training": "Time-dependent ROC at 3 years, training cohort",
    "td_roc_validation": "Time-dependent ROC at 3 years, validation cohort",
    "calibration_validation": "Calibration at 3 years, validation cohort",
    "km_training": "Kaplan–Meier curves of the Youden risk groups, training cohort",
    "km_validation": "Kaplan–Meier curves of the Youden risk groups, validation cohort",
    "decision_curve_validation": "Decision curves at 3 years, validation cohort",
    "auc_pvalues_validation": "p-values of pairwise TD AUC comparisons, validation cohort",
    "c_index": "Harrell's C-index with 95% CI",
    "hazard_ratios": "Hazard ratios of the clinical factors (training cohort)",
    "grad_cam_examples": "Grad-CAM of FusionSurvival: good, poor and mispredicted patients",
    "learning_curves": "Deep models: training and internal-validation loss per epoch, the kept epoch marked",
}


def write_report(out, tables: dict, figures: dict, results: dict) -> tuple:
    """Write ``report.md`` and a self-contained ``report.html`` (figures embedded) into ``out``.

    Parameters
    ----------
    out : path-like
        Folder holding ``figures/``.
    tables : dict of str to DataFrame
        As made by :func:`sksurv_tace.paper.reproduce` (``table1`` … ``table4``, …).
    figures : dict of str to list of Path
        Saved figure files (a PNG is embedded in the HTML).
    results : dict
        Run metadata (cohort, sizes, seconds, skipped models, patients left out of the cohort).

    Returns
    -------
    (Path, Path)
        The markdown and HTML files.
    """
    import base64
    import html
    from pathlib import Path

    out = Path(out)
    title = f"sksurv_tace reproduction of Sun et al. 2024 on {results.get('cohort', 'a cohort')}"
    meta = (
        f"{results.get('n_patients')} patients: {results.get('n_training')} training, "
        f"{results.get('n_validation')} validation (seeded, event-stratified 8:2 split, seed "
        f"{results.get('random_state')}); horizon {results.get('horizon_days'):.0f} days; "
        f"{'quick CPU preset' if results.get('quick') else 'paper configuration'} on {results.get('device')}; "
        f"sksurv_tace {results.get('sksurv_tace')}; {results.get('seconds', 0):.0f} s."
    )
    skipped = results.get("skipped") or {}
    md = [f"# {title}", "", meta, ""]
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(meta)}</p>"]
    stages = results.get("stage_seconds") or {}
    if stages:  # results.json of an older run has none
        line = "Wall time per stage: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in stages.items())
        md += [line + ".", ""]
        body.append(f"<p>{html.escape(line)}.</p>")
    if skipped:
        md += ["**Models skipped:**", ""] + [f"- {k}: {v}" for k, v in skipped.items()] + [""]
        body.append("<p><b>Models skipped:</b></p><ul>")
        body += [f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in skipped.items()]
        body.append("</ul>")
    excluded = results.get("excluded_patients") or {}
    if excluded:  # left out before the run (e.g. by the TCIA manifest builder)
        md += [f"**Patients left out of the cohort ({len(excluded)}):**", ""]
        md += [f"- {k}: {v}" for k, v in excluded.items()] + [""]
        body.append(f"<p><b>Patients left out of the cohort ({len(excluded)}):</b></p><ul>")
        body += [f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in excluded.items()]
        body.append("</ul>")
    for key, heading, display in _SECTIONS:
        if key not in tables or len(tables[key]) == 0:
            continue
        table = display(tables[key]) if display else tables[key]
        md += [f"## {heading}", "", markdown_table(table), "", f"CSV: `{key}.csv`", ""]
        body += [f"<h2>{html.escape(heading)}</h2>", table.to_html(index=False, na_rep="", float_format=_fmt)]
    md.append("## Figures")
    body.append("<h2>Figures</h2>")
    for key, paths in figures.items():
        png = [p for p in paths if Path(p).suffix == ".png"]
        if not png:
            continue
        caption = _FIGURE_TITLES.get(key, key)
        rel = Path(png[0]).resolve().relative_to(out.resolve())
        md += ["", f"### {caption}", "", f"![{caption}]({rel.as_posix()})"]
        data = base64.b64encode((out / rel).read_bytes()).decode("ascii")
        body.append(f"<h3>{html.escape(caption)}</h3><img alt='{html.escape(caption)}' "
                    f"src='data:image/png;base64,{data}' style='max-width:100%'>")  # fmt: skip
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:0.85em;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}"
    )
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
    page += f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    html_path.write_text(page, encoding="utf-8")
    return md_path, html_path


def _table_from_records(records: list) -> pd.DataFrame:
    """A table of ``results.json`` (records, NaN written as null) back as the DataFrame that was written."""
    table = pd.DataFrame.from_records(records).astype(object)
    return table.where(table.notna(), np.nan).infer_objects()


def read_results(out, reader: str, *, keys=("tables",)) -> dict:
    """``out/results.json`` of a run, checked to hold ``keys``: what the report and model card are rebuilt from.

    Parameters
    ----------
    out : path-like
        The output folder of a :func:`~sksurv_tace.paper.reproduce` run.
    reader : str
        Who needs the file, for the error messages.
    keys : sequence of str, default=("tables",)
        Keys the file must hold.

    Returns
    -------
    dict

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp())
    >>> _ = (out / "results.json").write_text(json.dumps({"tables": {}}), encoding="utf-8")
    >>> read_results(out, "this example")
    {'tables': {}}
    """
    import json
    from pathlib import Path

    source = Path(out) / "results.json"
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist: {reader} needs the output folder of a run")
    results = json.loads(source.read_text(encoding="utf-8"))
    missing = [key for key in keys if key not in results]
    if missing:
        raise ValueError(f"{source} has no {' or '.join(repr(k) for k in missing)}: not a results.json of reproduce")
    return results


def report_from_results(out) -> tuple:
    """Rewrite ``report.md`` and ``report.html`` of a :func:`~sksurv_tace.paper.reproduce` run from ``results.json``.

    ``results.json`` holds every table of the report (as records, NaN written as ``null``), the figure files
    (relative to ``out``) and the run's settings, so the report can be regenerated without the models, the
    CSV tables or the cohort: the same bytes as the report :func:`~sksurv_tace.paper.reproduce` wrote.
    ``docs/results_schema.json`` describes the file.

    Parameters
    ----------
    out : path-like
        The output folder of a run: ``results.json`` and the ``figures/`` it names.

    Returns
    -------
    (Path, Path)
        The markdown and HTML files (overwritten).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp())
    >>> table4 = [dict(model="ClinicalCox", cohort="validation", estimate=0.71, lower=0.62, upper=0.8,
    ...                p_vs_fusion=None, p_fdr=None)]
    >>> results = dict(cohort="a toy cohort", n_patients=150, n_training=120, n_validation=30, random_state=0,
    ...                horizon_days=1095.0, quick=True, device="cpu", sksurv_tace="0.1.0", seconds=12.0,
    ...                skipped={}, tables={"table4": table4}, figures={})
    >>> _ = (out / "results.json").write_text(json.dumps(results), encoding="utf-8")
    >>> markdown, _ = report_from_results(out)
    >>> print(markdown.read_text(encoding="utf-8").splitlines()[8])
    | ClinicalCox | 0.710 (0.620–0.800) |  |  |
    """
    from pathlib import Path

    out = Path(out)
    results = read_results(out, "report_from_results", keys=("tables", "figures"))
    tables = {name: _table_from_records(records) for name, records in results["tables"].items()}
    figures = {name: [out / path for path in paths] for name, paths in results["figures"].items()}
    return write_report(out, tables, figures, results)
