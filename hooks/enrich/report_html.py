"""The report page: one self-contained HTML document drawn from enrich.report's data.

Everything is inline (styles, SVG charts, no script, no URL but the page's own), so the file opens
anywhere, offline, and can be mailed. Every value from the data goes through `esc`: a market
category or a gate message is text, never markup.
"""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

from enrich.summary import TOP, ratio_text, usd_text

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .2em .6em; text-align: left; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #666; } .pass { color: #1a7f37; } .warn { color: #9a6700; } .fail, .error { color: #cf222e; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
rect.bar { fill: #4a7ab5; } rect.bar.negative { fill: #c0504d; } rect.bar.step-E { fill: #8064a2; }
code { font-size: 12px; }
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def num(value: int) -> str:
    """A count with thousands separators, escaped."""
    return esc(f"{value:,}")


def cell(text: str) -> str:
    """A right-aligned table cell holding already escaped TEXT."""
    return f"<td class='num'>{text}</td>"


def money(text: str | Decimal | None) -> str:
    return "-" if text is None else usd_text(Decimal(text), grouped=True) or "-"


def category_label(category: str) -> str:
    return category if category else "(unknown: market missing from markets_dim)"


def render(data: dict[str, Any]) -> str:
    s = data["summary"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # no favicon request: a file:// page asking for one logs a console error in some browsers
        '<link rel="icon" href="data:,">',
        f"<title>enrich results - {esc(data['database'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>P&amp;L and resolution accuracy</h1>",
        f'<p class="meta">database <code>{esc(data["database"])}</code> (target {esc(data["target"])}), '
        f'home <code>{esc(data["home"])}</code>, generated {esc(data["generated_at"])}'
        + _run_line(data["run"]) + "</p>",
        _summary(s),
        "<h2>Accuracy per wallet</h2>",
        f'<p class="meta">Wallets with a won or lost position ({num(s["rated_wallets"])}) by '
        "accuracy = wins / (wins + losses), in bins of 0.1 (the last one includes 1.0).</p>",
        histogram_svg(data["histogram"]),
        "<h2>P&amp;L by market category</h2>",
        '<p class="meta">P&amp;L in USD of the positions held at resolution (wallet_category_accuracy; '
        "exits before resolution are not in a category's figure).</p>",
        category_svg(data["categories"]),
        _category_table(data["categories"]),
        "<h2>Leaderboards</h2>",
        f"<h3>Top {TOP} by realized P&amp;L</h3>",
        _leaders("top-pnl", s["top_by_pnl"]),
        f"<h3>Top {TOP} by accuracy, at least {num(s['min_resolved'])} resolved positions</h3>",
        _leaders("top-accuracy", s["top_by_accuracy"]),
        "<h2>Gates</h2>",
        _gates(data["gates"]),
        "<h2>Last run's batch timings</h2>",
        _timings(data["step_timings"], data["batch_timings"]),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _run_line(run: dict[str, Any] | None) -> str:
    if run is None:
        return "; no run checkpoint in this home"
    return (f"; last run <code>{esc(run['run_id'])}</code> {esc(run['status'])} ({esc(run['mode'])}, "
            f"step {esc(run['step_request'])}), started {esc(run['started_at'])}, "
            f"updated {esc(run['updated_at'])}")


def _summary(s: dict[str, Any]) -> str:
    quartiles = s["accuracy_quartiles"]
    rows = [
        ("pairs", f"{s['pairs']:,}"),
        ("resolved pairs", f"{s['resolved_pairs']:,}"),
        ("wallets", f"{s['wallets']:,}"),
        ("total realized P&L (USD)", money(s["total_realized_pnl_usd"])),
        ("fees paid (USD)", money(s["fees_usd"])),
        ("wallets with an accuracy", f"{s['rated_wallets']:,}"),
        ("accuracy Q1 / median / Q3", " / ".join(ratio_text(q) for q in quartiles) if quartiles else "-"),
    ]
    body = "".join(f'<tr><th>{esc(k)}</th><td class="num">{esc(v)}</td></tr>' for k, v in rows)
    return f'<table id="summary">{body}</table>'


def histogram_svg(counts: list[int], width: int = 640, height: int = 260) -> str:
    left, bottom, top = 40, 30, 16
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(counts, default=0) or 1
    slot = plot_w / max(len(counts), 1)
    out = [f'<svg id="accuracy-histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           'aria-label="wallets per accuracy bin">',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>',
           f'<text x="4" y="{top + 4}">{esc(peak)}</text>']
    for i, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + i * slot + 2
        lo, hi = i / len(counts), (i + 1) / len(counts)
        label = f"{lo:.1f}-{hi:.1f}"
        out.append(f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot - 4:.1f}" '
                   f'height="{h:.1f}" data-bin="{esc(label)}" data-count="{esc(count)}">'
                   f"<title>{esc(label)}: {esc(count)} wallets</title></rect>")
        out.append(f'<text x="{x + (slot - 4) / 2:.1f}" y="{height - 12}" text-anchor="middle">'
                   f"{esc(f'{lo:.1f}')}</text>")
        if count:
            out.append(f'<text x="{x + (slot - 4) / 2:.1f}" y="{top + plot_h - h - 3:.1f}" '
                       f'text-anchor="middle">{esc(count)}</text>')
    out.append("</svg>")
    return "".join(out)


def category_svg(categories: list[dict[str, Any]], width: int = 760) -> str:
    """Horizontal bars from a zero line: a loss to the left in red, a gain to the right."""
    row, label_w, value_w = 24, 220, 120
    height = row * max(len(categories), 1) + 10
    plot_w = width - label_w - value_w
    values = [Decimal(c["pnl_usd"]) for c in categories]
    reach = max((abs(v) for v in values), default=Decimal(0)) or Decimal(1)
    negatives, positives = any(v < 0 for v in values), any(v > 0 for v in values)
    # the zero line sits where both sides fit: at the left edge when nothing is negative, and so on
    zero = label_w + (plot_w / 2 if negatives and positives else plot_w if negatives else 0)
    span = plot_w / 2 if negatives and positives else plot_w
    out = [f'<svg id="category-pnl" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="P&amp;L by market category">',
           f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height}" stroke="#999"/>']
    for i, (category, value) in enumerate(zip(categories, values, strict=True)):
        length = float(abs(value) / reach) * span
        x = zero - length if value < 0 else zero
        y = i * row + 5
        label = category_label(category["category"])
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{esc(label)}</text>')
        kind = "bar negative" if value < 0 else "bar"
        out.append(f'<rect class="{kind}" x="{x:.1f}" y="{y}" width="{length:.1f}" height="{row - 8}" '
                   f'data-category="{esc(category["category"])}" data-value="{esc(money(value))}">'
                   f"<title>{esc(label)}: {esc(money(value))} USD</title></rect>")
        out.append(f'<text x="{width - value_w + 6}" y="{y + 14}">{esc(money(value))}</text>')
    out.append("</svg>")
    return "".join(out)


def _category_table(categories: list[dict[str, Any]]) -> str:
    head = ("<tr><th>category</th><th class='num'>P&amp;L (USD)</th><th class='num'>positions</th>"
            "<th class='num'>won</th><th class='num'>lost</th><th class='num'>push</th>"
            "<th class='num'>wallets</th></tr>")
    body = "".join(
        f"<tr><td>{esc(category_label(c['category']))}</td>{cell(esc(money(c['pnl_usd'])))}"
        + "".join(cell(num(c[k])) for k in ("positions", "wins", "losses", "pushes", "wallets"))
        + "</tr>"
        for c in categories)
    return f'<table id="categories"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _leaders(table_id: str, leaders: list[dict[str, Any]]) -> str:
    head = ("<tr><th class='num'>#</th><th>wallet</th><th class='num'>realized P&amp;L (USD)</th>"
            "<th class='num'>accuracy</th><th class='num'>won</th><th class='num'>lost</th>"
            "<th class='num'>push</th><th class='num'>resolved positions</th></tr>")
    body = "".join(
        f"<tr>{cell(esc(w['rank']))}<td><code>{esc(w['wallet_address'])}</code></td>"
        f"{cell(esc(money(w['pnl_usd'])))}{cell(esc(ratio_text(w['accuracy'])))}"
        + "".join(cell(num(w[k])) for k in ("wins", "losses", "pushes", "positions"))
        + "</tr>"
        for w in leaders)
    if not leaders:
        body = "<tr><td colspan='8'>no wallet qualifies</td></tr>"
    return f'<table id="{esc(table_id)}"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _gates(document: dict[str, Any] | None) -> str:
    if document is None:
        return "<p>No gate results kept in this home yet: run <code>enrich gates</code>.</p>"
    counts = document.get("counts") or {}
    scope = (" (a --changed run's gates: the refreshed conditions and the global counts)"
             if document.get("scope") == "refresh" else "")
    lines = [f'<p class="meta">checked {esc(document.get("checked_at"))}{esc(scope)}: '
             f"{esc(counts.get('pass'))} passed, {esc(counts.get('warn'))} warned, "
             f"{esc(counts.get('fail'))} failed</p>",
             '<table id="gates"><thead><tr><th>gate</th><th>status</th><th class="num">expected</th>'
             '<th class="num">actual</th><th>fix</th></tr></thead><tbody>']
    for gate in document["gates"]:
        status = str(gate.get("status", ""))
        fix = gate.get("fix") if status != "pass" else ""
        lines.append(f"<tr><td>{esc(gate.get('label'))}</td><td class='{esc(status)}'>{esc(status)}</td>"
                     f"{cell(esc(gate.get('expected')))}{cell(esc(gate.get('actual')))}<td>{esc(fix)}</td></tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


def _timings(steps: list[dict[str, Any]], batches: list[dict[str, Any]]) -> str:
    if not steps and not batches:
        return "<p>No batch recorded for the last run.</p>"
    head = ("<tr><th>step</th><th class='num'>batches</th><th class='num'>pairs</th><th class='num'>rows</th>"
            "<th class='num'>seconds in batches</th><th class='num'>pairs/s</th></tr>")
    body = "".join(
        f"<tr><td>{esc(t['step'])}</td>"
        + "".join(cell(num(t[k])) for k in ("batches", "pairs", "rows"))
        + cell(esc(format(t["seconds"], ".1f")))
        + cell(esc(format(t["pairs"] / t["seconds"], ",.0f") if t["seconds"] else "-"))
        + "</tr>"
        for t in steps)
    out = [f'<table id="step-timings"><thead>{head}</thead><tbody>{body}</tbody></table>',
           batch_svg(batches)]
    head = ("<tr><th>step</th><th class='num'>batch</th><th class='num'>keys</th><th class='num'>pairs</th>"
            "<th class='num'>rows</th><th class='num'>seconds</th><th>finished</th></tr>")
    body = "".join(
        f"<tr><td>{esc(b['step'])}</td>{cell(esc(b['batch']))}"
        f"{cell(esc(b['key_lo']) + '-' + esc(b['key_hi']))}"
        f"{cell(num(b['pairs']))}{cell(num(b['rows']))}{cell(esc(format(b['seconds'], '.3f')))}"
        f"<td>{esc(b['finished_at'])}</td></tr>"
        for b in batches)
    out.append(f'<table id="batch-timings"><thead>{head}</thead><tbody>{body}</tbody></table>')
    return "".join(out)


def batch_svg(batches: list[dict[str, Any]], width: int = 760, height: int = 160) -> str:
    """Seconds per batch in the order they committed, one colour per step."""
    left, bottom, top = 40, 20, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((b["seconds"] for b in batches), default=0.0) or 1.0
    # a few batches stay narrow bars, not blocks across the page
    slot = min(plot_w / max(len(batches), 1), 40)
    out = [f'<svg id="batch-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="seconds per batch">',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>',
           f'<text x="2" y="{top + 4}">{esc(f"{peak:.1f}")} s</text>']
    for i, b in enumerate(batches):
        h = plot_h * b["seconds"] / peak
        seconds = esc(format(b["seconds"], ".3f"))
        out.append(f'<rect class="bar step-{esc(b["step"])}" x="{left + i * slot + 1:.1f}" '
                   f'y="{top + plot_h - h:.1f}" width="{max(slot - 2, 1):.1f}" height="{h:.1f}" '
                   f'data-seconds="{esc(b["seconds"])}">'
                   f"<title>step {esc(b['step'])} batch {esc(b['batch'])}: {seconds} s</title></rect>")
    out.append("</svg>")
    return "".join(out)
