"""The documentation: every example of docs/*.rst runs, and the HTML builds without a warning."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.rst"))
# Pages whose examples need an optional extra (both are in the "dev" extra that CI installs).
EXTRAS = {"scale.rst": ["dask.distributed"], "models.rst": ["captum"]}


def test_docs_pages_exist():
    names = {page.stem for page in PAGES}
    expected = {"index", "install", "cohort", "models", "evaluation", "tuning", "scale", "reproduce", "api"}
    assert expected <= names, f"missing pages: {sorted(expected - names)}"


@pytest.fixture
def one_torch_thread():
    """One torch thread: two pytest-xdist workers share two cores, and the tiny example nets gain nothing from
    intra-op threads but lose a lot to their contention (measured: models.rst 11 s with one thread, 48 s with two)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_docs_examples_run(page, tmp_path, monkeypatch, one_torch_thread):
    """Run the page's ``>>>`` examples as doctests, in an empty folder (examples write files)."""
    for module in EXTRAS.get(page.name, []):
        pytest.importorskip(module)
    import matplotlib.pyplot as plt

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    try:
        result = doctest.testfile(
            str(page),
            module_relative=False,
            encoding="utf-8",
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        )
    finally:
        plt.close("all")
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {page.name} failed (see stdout)"


def test_api_page_covers_every_public_module():
    """docs/api.rst documents each public module; automodule then lists every name of its __all__."""
    api = (DOCS / "api.rst").read_text(encoding="utf-8")
    modules = sorted(p.stem for p in (ROOT / "sksurv_tace").glob("*.py") if not p.stem.startswith("_"))
    missing = [m for m in modules if f".. automodule:: sksurv_tace.{m}\n" not in api]
    assert not missing, f"docs/api.rst lacks the module(s) {missing}"


def test_index_quick_start_matches_readme():
    """The quick start of docs/index.rst shows the README's commands verbatim."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    commands = [
        line.strip()
        for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
        for line in block.splitlines()
        if line.strip()
    ]
    assert len(commands) >= 2
    missing = [c for c in commands if c not in index]
    assert not missing, f"docs/index.rst does not show the README command(s) {missing}"


def test_docs_build_html(tmp_path):
    """``sphinx-build -W``: any warning (a broken reference, a malformed docstring) fails."""
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    from sphinx.cmd.build import build_main

    status = build_main(["-b", "html", "-W", "--keep-going", "-q", str(DOCS), str(tmp_path / "html")])
    assert status == 0, "the Sphinx build reported warnings or errors (see the captured stderr)"
    assert (tmp_path / "html" / "api.html").is_file()
