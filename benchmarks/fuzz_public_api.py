"""Fuzz the public API: N generated inputs per function, outcomes counted (issue 13).

For each public metric, scorer and cheap estimator covered by ``tests/test_properties.py`` it draws ``--n``
inputs from the same hypothesis strategies, shared equally by the function's families (well-formed cohorts,
malformed targets/scores/horizons, out-of-range or text parameters, use before ``fit``, ...; the JSON has
the counts per family), and classifies every call as

* ``finite-valid``: finite numbers that satisfy the function's invariants,
* ``ValueError`` / ``NotFittedError``: refused with a message (accepted),
* ``NaN-with-warning``: a documented NaN with a warning (accepted),
* ``UNEXPECTED exception``: any other exception type (a bug),
* ``invariant violated``: a result that breaks an invariant (a bug),
* ``NaN silent/undocumented``: a NaN without a warning, or where the function does not document one (a bug).

It prints a table and, with ``--json``, writes the counts, timings and the first failing inputs of each kind.

Usage::

    .venv/bin/python benchmarks/fuzz_public_api.py --n 300 --json fuzz.json
    .venv/bin/python benchmarks/fuzz_public_api.py --n 50 --only harrell_c td_auc
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"-?\b\d[\d.e+-]*")


def load_properties():
    """``tests/test_properties.py`` as a module (its strategies, cases and outcome classification)."""
    spec = importlib.util.spec_from_file_location("test_properties", ROOT / "tests" / "test_properties.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def fuzz_function(props, function: str, n: int, random_seed: int, keep: int = 3) -> dict:
    """Draw ``n`` inputs of ``function``, shared equally by its families, and count the outcomes."""
    families = [family for name, family in props.CASES if name == function]
    counts: Counter = Counter()
    by_family: dict[str, Counter] = {f: Counter() for f in families}
    errors: Counter = Counter()  # refusal messages, numbers masked: what the accepted errors say
    failures: dict[str, list] = {}

    def fuzz_family(family: str, n_family: int) -> None:
        case = props.CASES[(function, family)]

        @seed(random_seed)
        @settings(
            max_examples=n_family,
            phases=[Phase.generate],
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(call=case.strategy)
        def run(call):
            outcome = case.run(call)
            counts[outcome.kind] += 1
            by_family[family][outcome.kind] += 1
            if outcome.kind in (props.VALUE_ERROR, props.NOT_FITTED):
                errors[f"{outcome.kind}: {NUMBER.sub('#', outcome.detail)[:160]}"] += 1
            if not outcome.ok and len(failures.setdefault(outcome.kind, [])) < keep:
                failures[outcome.kind].append({"family": family, "detail": outcome.detail, "input": repr(call)[:2000]})

        run()

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, family in enumerate(families):  # n split as evenly as possible
            fuzz_family(family, n // len(families) + (k < n % len(families)))
    return {
        "n": sum(counts.values()),
        "seconds": round(time.perf_counter() - start, 2),
        "counts": {kind: counts.get(kind, 0) for kind in props.KINDS},
        "by_family": {f: dict(c) for f, c in by_family.items()},
        "top_errors": dict(errors.most_common(8)),
        "failures": failures,
    }


SHORT = {
    "finite-valid": "valid",
    "ValueError": "ValueErr",
    "NotFittedError": "NotFitted",
    "NaN-with-warning": "NaN+warn",
    "UNEXPECTED exception": "UNEXPECTED",
    "invariant violated": "invariant",
    "NaN silent/undocumented": "bad NaN",
}


def format_table(results: dict, kinds) -> str:
    header = ["function", "n", *(SHORT[k] for k in kinds), "s"]
    rows = [[name, r["n"], *(r["counts"][k] for k in kinds), f"{r['seconds']:.1f}"] for name, r in results.items()]
    totals = ["TOTAL", sum(r["n"] for r in results.values())]
    totals += [sum(r["counts"][k] for r in results.values()) for k in kinds]
    totals.append(f"{sum(r['seconds'] for r in results.values()):.1f}")
    rows.append(totals)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "| " + " | ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths)) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
    return "\n".join([line.format(*header), sep, *(line.format(*row) for row in rows)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="generated inputs per function (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON to this file")
    parser.add_argument("--only", nargs="*", default=None, help="restrict to these functions")
    args = parser.parse_args(argv)

    props = load_properties()
    functions = list(dict.fromkeys(name for name, _ in props.CASES))
    if args.only:
        unknown = sorted(set(args.only) - set(functions))
        if unknown:
            parser.error(f"unknown function(s) {unknown}; known: {functions}")
        functions = [f for f in functions if f in args.only]
    results = {}
    for function in functions:
        results[function] = fuzz_function(props, function, args.n, args.seed)
        r = results[function]
        bad = sum(r["counts"][k] for k in props.KINDS if k not in props.ACCEPTED)
        print(f"{function}: {r['n']} inputs, {bad} failing, {r['seconds']:.1f} s", file=sys.stderr, flush=True)
    print(format_table(results, props.KINDS))
    for function, r in results.items():
        for kind, examples in r["failures"].items():
            for ex in examples[:1]:
                print(f"\n{function} [{ex['family']}] {kind}: {ex['detail']}\n    {ex['input'][:400]}")
    if args.json:
        payload = {"n_per_function": args.n, "seed": args.seed, "kinds": list(props.KINDS), "results": results}
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
