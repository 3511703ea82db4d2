"""The HTML report (`snakemake --report`) opens and renders in headless Chromium: a screenshot that is
not blank. Needs the Debian package `chromium` (skipped, saying so, where it is absent).

- a small Snakemake workflow with one report() figure and table: seconds;
- the pipeline's own report on the smoke config is checked in tests/test_workflow.py, on the smoke run
  that module shares (every category of issue 5 present, and it renders).
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install -y chromium)"
)
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def needs_chromium_reason() -> str:
    return "" if CHROMIUM else "headless Chromium not installed (Debian: apt-get install -y chromium)"


def screenshot(html: Path, png: Path, size=(1400, 1000), budget_ms: int = 20000) -> np.ndarray:
    """Render `html` in headless Chromium (JavaScript included) and return the screenshot's RGB pixels."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--hide-scrollbars", f"--window-size={size[0]},{size[1]}", f"--virtual-time-budget={budget_ms}",
           f"--screenshot={png}", html.resolve().as_uri()]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert png.exists(), f"chromium wrote no screenshot (exit {r.returncode}): {r.stderr[-2000:]}"
    return imread(png)[..., :3]


def assert_not_blank(img: np.ndarray) -> None:
    """Rendered content: pixels vary, and a visible share of them is not the background colour."""
    assert img.std() > 0.02, "the screenshot is a uniform image"
    background = np.median(img.reshape(-1, 3), axis=0)
    differs = np.abs(img - background).sum(axis=-1) > 0.1
    assert differs.mean() > 0.005, f"only {differs.mean():.2%} of the pixels differ from the background"


TOY = """
rule all:
    input: "fig.png", "table.html"

rule fig:
    output: report("fig.png", caption="fig.rst", category="Figures")
    shell: "{python} -c 'import matplotlib; matplotlib.use(\\"Agg\\"); import matplotlib.pyplot as p; p.plot([0, 1, 0]); p.savefig(\\"{{output}}\\")'"

rule table:
    output: report("table.html", caption="fig.rst", category="Tables")
    shell: "echo '<table><tr><th>method</th><th>RR@10</th></tr><tr><td>lora</td><td>0.31*</td></tr></table>' > {{output}}"
"""


@needs_chromium
def test_small_report_renders(tmp_path):
    (tmp_path / "Snakefile").write_text(textwrap.dedent(TOY.format(python=sys.executable)))
    (tmp_path / "fig.rst").write_text("A toy figure: a line going up and down.\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for extra in ([], ["--report", "report.html"]):
        r = subprocess.run(
            [*SNAKEMAKE, "--cores", "1", *extra],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert r.returncode == 0, r.stderr[-3000:]
    assert_not_blank(screenshot(tmp_path / "report.html", tmp_path / "shot.png"))


# --- the pipeline's report pieces (issue 16): landing page, headline table rendered inside the report ---

TABLE_SCRIPT = """
import sys
from peftir.analysis.tables import build_table, table_html
rows = [{"label": "BM25", "values": {"debian.dev RR@10": 0.7654}},
        {"label": "LoRA", "budget": "small", "trainable_pct": 0.52, "values": {"debian.dev RR@10": [0.8191, 0.8012]},
         "markers": {"debian.dev RR@10": "*"}},
        {"label": "IAA-L", "budget": "small", "trainable_pct": 0.49, "values": {"debian.dev RR@10": 0.8137}}]
open(sys.argv[1], "w").write(table_html(build_table(rows, ["debian.dev RR@10"]), caption="Retrieval: toy rows"))
"""

PIPELINE_PIECES = """
configfile: "{repo}/config.yaml"
report: "{repo}/workflow/report/workflow.rst"

rule all:
    input: "results/tables/retrieval.html", "results/tables/reranking.html"

rule table:
    output: report("results/tables/retrieval.html", caption="{repo}/workflow/report/retrieval.rst", category="Tables")
    shell: "{python} table.py {{output}}"

rule table_reranking:
    output: report("results/tables/reranking.html", caption="{repo}/workflow/report/reranking.rst", category="Tables")
    shell: "{python} table.py {{output}}"
"""


def _dump_dom(html: Path, budget_ms: int = 15000) -> str:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           f"--virtual-time-budget={budget_ms}", "--dump-dom", html.resolve().as_uri()]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert r.returncode == 0 and r.stdout, r.stderr[-2000:]
    return r.stdout


def _open_result(report: Path, name: str, out: Path) -> str:
    """A copy of the report that opens result `name` in the viewer itself (as a click would); -> its data URI."""
    import base64
    import json

    text = report.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.strip().startswith("var results = {"))
    results = json.loads(line.strip().removeprefix("var results = ").removesuffix(";"))
    path = next((p for p in results if p.endswith(name)), None)
    assert path, f"{name} is not in the report"
    uri = results[path]["data_uri"]
    assert uri.startswith("data:text/html"), f"{name} is embedded as {uri[:40]!r}, not as HTML"
    opener = ("<script>window.addEventListener('load', function(){setTimeout(function(){"
              f"app.setView({{content: 'html', contentPath: results['{path}'].data_uri, resultPath: '{path}'}})"
              "}, 300)});</script>")
    head, tail = text.rsplit("</body>", 1)  # the last one: the bundled scripts hold the string too
    out.write_text(head + opener + "</body>" + tail, encoding="utf-8")
    return base64.b64decode(uri.split(",", 1)[1]).decode()


@needs_chromium
def test_pipeline_report_landing_page_and_table_render(tmp_path):
    """The real landing page (workflow/report/workflow.rst) and a headline table rendered by peftir's own
    table_html, inside a Snakemake report: the text is in the rendered page, the table is sortable."""
    (tmp_path / "Snakefile").write_text(textwrap.dedent(PIPELINE_PIECES.format(repo=REPO, python=sys.executable)))
    (tmp_path / "table.py").write_text(TABLE_SCRIPT)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": str(REPO / "src")}
    for extra in ([], ["--report", "report.html"]):
        r = subprocess.run([*SNAKEMAKE, "--cores", "1", *extra], cwd=tmp_path, capture_output=True, text=True,
                           env=env, check=False)
        assert r.returncode == 0, r.stderr[-3000:]
    report = tmp_path / "report.html"
    landing = _dump_dom(report)
    for s in ("Scattered or Connected", "all-MiniLM-L6-v2", "sentence-embedding model", "debian / train",
              "retrieval.html", "headline first-stage table"):
        assert s in landing, f"landing page lacks {s!r}"
    assert "table4.html" not in landing  # only results this report holds are listed
    items = [x.split("</li>")[0] for x in landing.split("<li>")[1:]]
    assert any("retrieval.html" in x and "reranking.html" not in x for x in items), items  # one item each
    assert any("reranking.html" in x and "retrieval.html" not in x for x in items), items
    img = screenshot(report, tmp_path / "landing.png")
    assert_not_blank(img)

    page = _open_result(report, "retrieval.html", tmp_path / "opened.html")
    (tmp_path / "table.html").write_text(page)
    dom = _dump_dom(tmp_path / "table.html")
    for s in ("LoRA", "IAA-L", "0.810 ± 0.013*", "0.765", "debian.dev RR@10", "Retrieval: toy rows"):
        assert s in dom, f"rendered table lacks {s!r}"
    assert 'class="sortable"' in dom
    # sorting: two clicks on the metric header put the rows in descending order (IAA-L 0.814 first, BM25 last)
    click = "<script>var h=document.querySelectorAll('th')[3];h.click();h.click();</script></body>"
    (tmp_path / "sorted.html").write_text(page.replace("</body>", click))
    body = _dump_dom(tmp_path / "sorted.html").split("<tbody>")[1]
    assert body.index("IAA-L") < body.index("LoRA") < body.index("BM25")
    # the table is drawn inside the report's viewer: its header row's grey (#f0f0f0) is a band across the pane
    img = screenshot(tmp_path / "opened.html", tmp_path / "table_in_report.png")
    assert_not_blank(img)
    header_grey = (np.abs(img * 255 - 240) < 1.5).all(axis=-1)[:, 300:]  # right of the report's sidebar
    assert (header_grey.sum(axis=1) > 300).sum() >= 8, "no table header row drawn in the report's content pane"
