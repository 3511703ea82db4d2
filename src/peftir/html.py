"""Self-contained HTML pages for Snakemake's report: tables whose columns sort on a click, no external
scripts or styles (the report is opened offline). Pure functions: data in, HTML text out.

    page("Retrieval", table(["system", "RR@10"], [["bm25", 0.765], ["lora", 0.819]], caption="..."))
"""

from __future__ import annotations

import html
import math

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1em;color:#222}
.wrap{overflow-x:auto;max-width:100%}
table.sortable{border-collapse:collapse;font-size:13px;white-space:nowrap}
table.sortable caption{caption-side:top;text-align:left;white-space:normal;max-width:60em;margin-bottom:.5em}
table.sortable th,table.sortable td{border:1px solid #ccc;padding:3px 7px}
table.sortable th{background:#f0f0f0;cursor:pointer;position:sticky;top:0;user-select:none}
table.sortable th:after{content:" \\2195";color:#999}
table.sortable td.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable tbody tr:nth-child(even){background:#fafafa}
"""

# click a header: sort by that column (numbers by value, leading number of "0.81 ± 0.01"; else text); again: reverse
SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function(t){
  t.querySelectorAll("th").forEach(function(th,i){
    th.addEventListener("click",function(){
      var b=t.tBodies[0],rows=Array.from(b.rows),asc=th.dataset.dir!=="asc";
      t.querySelectorAll("th").forEach(function(h){delete h.dataset.dir});th.dataset.dir=asc?"asc":"desc";
      rows.sort(function(r,s){
        var x=r.cells[i].textContent.trim(),y=s.cells[i].textContent.trim(),a=parseFloat(x),c=parseFloat(y);
        var d=(!isNaN(a)&&!isNaN(c))?a-c:(isNaN(a)&&isNaN(c)?x.localeCompare(y):(isNaN(a)?1:-1));
        return asc?d:-d});
      rows.forEach(function(r){b.appendChild(r)})})})});
"""


def _cell(v) -> tuple[str, bool]:
    """-> (text, is_number). Floats get 4 decimals; NaN and None are empty."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "", False
    if isinstance(v, bool):
        return str(v), False
    if isinstance(v, float):
        return f"{v:.4f}", True
    if isinstance(v, int):
        return str(v), True
    s = str(v)
    try:
        float(s.split()[0])
        return s, True
    except (ValueError, IndexError):
        return s, False


def table(columns: list[str], rows: list[list], caption: str = "", raw_columns: tuple[str, ...] = ()) -> str:
    """An HTML table with sortable columns. Cells are escaped, except in `raw_columns` (trusted HTML)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for r in rows:
        tds = []
        for c, v in zip(columns, r):
            text, num = _cell(v)
            text = text if c in raw_columns else html.escape(text)
            tds.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    cap = f"<caption>{caption}</caption>" if caption else ""
    return (f'<div class="wrap"><table class="sortable">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def frame_table(df, caption: str = "") -> str:
    """A pandas DataFrame (index ignored) as a sortable table."""
    return table([str(c) for c in df.columns], df.astype(object).values.tolist(), caption)


def page(title: str, body: str, heading: bool = True) -> str:
    h2 = f"<h2>{html.escape(title)}</h2>" if heading else ""
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{h2}{body}"
            f"<script>{SORT_JS}</script></body></html>\n")
