"""examples/explore.ipynb runs top to bottom in a real kernel and shows HTML results."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs the test extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="needs the test extra: pip install -e '.[test]'")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_explore_notebook_runs_and_displays_clusters() -> None:
    nb = nbformat.read(EXAMPLES / "explore.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("class='dedup-c'" in h and "<mark" in h for h in html)  # clusters, highlighted
    assert any("<table" in h and "cluster" in h for h in html)  # the pandas table
