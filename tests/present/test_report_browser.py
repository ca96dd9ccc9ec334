"""The standalone HTML report, rendered by a real headless Chromium (Debian's ``chromium``)."""

from __future__ import annotations

import colorsys
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dedup._present.html import colour

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "000_2e71187361903d7a.txt"

# Flags that work as root on a machine with no network (see scripts/test.sh).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]

# Appended to a copy of the report: records how each highlight was laid out and painted.
PROBE = """<script>
const marks = [...document.querySelectorAll('mark.dup')].map(m => {
  const r = m.getBoundingClientRect();
  return {cluster: m.dataset.cluster, width: r.width, height: r.height,
          background: getComputedStyle(m).backgroundColor, text: m.textContent};
});
const panel = document.querySelectorAll('aside section.cluster').length;
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify({marks, panel, pwned: document.body.dataset.pwned || null});
document.body.appendChild(pre);
</script>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless Chromium: scripts/test.sh installs Debian's chromium with apt-get when it can")


def _rgb(css_hsl: str) -> tuple[int, int, int]:
    h, s, lum = (float(x) for x in re.findall(r"[\d.]+", css_hsl))
    r, g, b = colorsys.hls_to_rgb(h / 360, lum / 100, s / 100)
    return round(r * 255), round(g * 255), round(b * 255)


def _probe(page: Path, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """Render ``page`` (which holds a probe script) in headless Chromium: the probe's JSON, the DOM."""
    out = subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    found = re.search(r"<pre id=\"probe\">(.*?)</pre>", out.stdout, re.S)
    assert found, f"chromium rendered no probe (exit {out.returncode}): {out.stderr[-2000:]}"
    probe: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return probe, out.stdout


def _render(page: Path, tmp_path: Path) -> dict[str, Any]:
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    result, dom = _probe(probe, tmp_path)
    result["dom"] = dom
    return result


def _report(text: str, tmp_path: Path) -> Path:
    source = tmp_path / "input.txt"
    source.write_text(text, encoding="utf-8")
    target = tmp_path / "report.html"
    cmd = [sys.executable, "-m", "dedup", str(source), "--format", "html", "-o", str(target)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return target


def test_browser_paints_every_highlighted_passage_in_its_cluster_colour(tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "dedup", str(SEED), "--format", "json"],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    clusters = json.loads(out.stdout)["clusters"]
    rendered = _render(_report(text, tmp_path), tmp_path)
    marks = rendered["marks"]
    assert rendered["panel"] == len(clusters)
    for n, cluster in enumerate(clusters):
        painted = [m for m in marks if m["cluster"] == str(n)]
        assert len(painted) >= len(cluster["passages"])
        assert all(m["width"] > 0 and m["height"] > 0 for m in painted)
        expected = _rgb(colour(n))
        for m in painted:
            got = tuple(int(x) for x in re.findall(r"\d+", m["background"])[:3])
            assert all(abs(a - b) <= 1 for a, b in zip(got, expected, strict=True)), (n, m["background"])
        marked = "".join(m["text"] for m in painted)
        for p in cluster["passages"]:
            assert " ".join(p["text"].split()[:3]) in " ".join(marked.split())


def test_browser_shows_markup_in_the_text_as_text(tmp_path: Path) -> None:
    line = "Officials said <script>document.body.dataset.pwned='yes'</script> the border closed at noon."
    rendered = _render(_report(f"{line}\nMarkets were calm.\n{line}", tmp_path), tmp_path)
    assert rendered["pwned"] is None
    assert len(rendered["marks"]) == 2
    assert all("<script>" in m["text"] for m in rendered["marks"])


# Appended to a notebook page: the lowest text contrast (WCAG ratio) over every element of the views.
CONTRAST_PROBE = """<script>
const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
  v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
const opaque = c => !/rgba\\(.*, 0\\)$/.test(c) && c !== 'transparent';
const backdrop = el => { for (; el; el = el.parentElement) {
  const bg = getComputedStyle(el).backgroundColor; if (opaque(bg)) return bg; }
  return 'rgb(255, 255, 255)'; };
let worst = 99, where = '';
for (const el of document.querySelectorAll('.dedup *, .dedup')) {
  const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  if (!own || ['STYLE', 'SCRIPT'].includes(el.tagName)) continue;
  const a = lum(getComputedStyle(el).color), b = lum(backdrop(el));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < worst) { worst = ratio; where = el.className + ': ' + el.textContent.slice(0, 40); }
}
const pre = document.createElement('pre'); pre.id = 'probe';
pre.textContent = JSON.stringify({worst, where}); document.body.appendChild(pre);
</script>"""


@pytest.mark.parametrize(
    "body",
    [
        "<body>",  # a light notebook
        "<body data-jp-theme-light='false' style='background:#111;color:#ddd'>",  # JupyterLab, dark theme
        "<body class='vscode-dark' style='background:#1f1f1f;color:#ccc'>",  # VS Code, dark theme
    ],
)
def test_notebook_views_are_readable_on_light_and_dark_themes(tmp_path: Path, body: str) -> None:
    import dedup

    found = dedup.find_duplicates(SEED.read_text(encoding="utf-8"))
    views = found._repr_html_() + found[0]._repr_html_() + found.matches[0]._repr_html_()
    page = tmp_path / "notebook.html"
    page.write_text(f"<html>{body}{views}{CONTRAST_PROBE}</body></html>", encoding="utf-8")
    probe, _ = _probe(page, tmp_path)
    assert probe["worst"] >= 4.5, probe  # WCAG AA for body text
