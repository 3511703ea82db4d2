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
