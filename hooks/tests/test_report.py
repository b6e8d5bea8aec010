"""Issue 22: the summary `enrich run` ends with and the page `enrich report` writes, checked against the
marts queried here independently (flows of pnl, rows of wallet_resolution_outcomes, summed and ranked in
Python), the page in a real headless Chromium (Debian's chromium and chromedriver; `make browser`).
"""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import query, run_enrich, seeded_copy

from enrich.report_html import render
from enrich.summary import DEFAULT_MIN_RESOLVED, TOP

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
BINS = 10


def usd(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.000001'), rounding=ROUND_HALF_EVEN):,}"


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory, tiny_seed: Path) -> tuple[Path, str]:
    home = seeded_copy(tiny_seed, tmp_path_factory.mktemp("report") / "home")
    out = run_enrich(home, "run", "--step", "all", "--fresh").stdout
    return home, out


@pytest.fixture(scope="module")
def marts(ran: tuple[Path, str]) -> dict:
    """The figures the summary and the page show, from the flows and the outcome rows."""
    home, _ = ran
    flows = query(home, "select wallet_address, condition_id, is_resolved, toString(realized_pnl_usd), "
                        "toString(fee_usd) from polymarket.pnl")
    pairs, resolved, wallet_pnl = set(), set(), defaultdict(Decimal)
    total, fees = Decimal(0), Decimal(0)
    for wallet, condition, is_resolved, pnl, fee in flows:
        pairs.add((wallet, condition))
        if is_resolved:
            resolved.add((wallet, condition))
            total += Decimal(pnl)
            fees += Decimal(fee)
            wallet_pnl[wallet] += Decimal(pnl)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"won": 0, "lost": 0, "push": 0})
    category_pnl: dict[str, Decimal] = defaultdict(Decimal)
    for wallet, result, pnl, category in query(
            home, "select wallet_address, result, toString(pnl_usd), category "
                  "from polymarket.wallet_resolution_outcomes"):
        counts[wallet][result] += 1
        category_pnl[category] += Decimal(pnl)
    accuracy = {w: Fraction(c["won"], c["won"] + c["lost"])
                for w, c in counts.items() if c["won"] + c["lost"]}
    positions = {w: sum(c.values()) for w, c in counts.items()}
    by_pnl = sorted(wallet_pnl, key=lambda w: (-wallet_pnl[w], w))[:TOP]
    by_accuracy = sorted((w for w in accuracy if positions[w] >= DEFAULT_MIN_RESOLVED),
                         key=lambda w: (-accuracy[w], -positions[w], w))[:TOP]
    histogram = [0] * BINS
    for ratio in accuracy.values():
        histogram[min(int(ratio * BINS), BINS - 1)] += 1
    return {
        "pairs": len(pairs), "resolved": len(resolved), "wallets": len({w for w, _ in pairs}),
        "total": total, "fees": fees, "wallet_pnl": wallet_pnl, "accuracy": accuracy, "positions": positions,
        "wins": {w: c["won"] for w, c in counts.items()}, "by_pnl": by_pnl, "by_accuracy": by_accuracy,
        "histogram": histogram, "category_pnl": category_pnl,
        "quartiles": statistics.quantiles([float(a) for a in accuracy.values()], n=4, method="inclusive"),
    }


def test_run_ends_with_a_summary_that_agrees_with_the_marts(ran: tuple[Path, str], marts: dict) -> None:
    home, out = ran
    text = out[out.index("\nResults\n"):]
    assert (f"  {marts['pairs']:,} pairs ({marts['resolved']:,} resolved), "
            f"{marts['wallets']:,} wallets\n") in text
    assert (f"  total realized P&L {usd(marts['total'])} USD over the resolved pairs "
            f"(fees paid {usd(marts['fees'])} USD)\n") in text
    q1, median, q3 = marts["quartiles"]
    assert (f"accuracy quartiles over {len(marts['accuracy']):,} wallets with a won or lost position: "
            f"Q1 {q1:.4f}, median {median:.4f}, Q3 {q3:.4f}\n") in text
    pnl_lines = re.findall(r"^    (\d)\. (0x[0-9a-f]{40}) +(\S+) USD  accuracy", text, re.M)
    assert pnl_lines == [(str(i + 1), w, usd(marts["wallet_pnl"][w])) for i, w in enumerate(marts["by_pnl"])]
    accuracy_lines = re.findall(r"^    (\d)\. (0x[0-9a-f]{40})  ([0-9.]+)  (\d+) won", text, re.M)
    assert len(marts["by_accuracy"]) == TOP  # the tiny seed has enough wallets with 10 positions
    assert accuracy_lines == [(str(i + 1), w, f"{float(marts['accuracy'][w]):.4f}", str(marts["wins"][w]))
                              for i, w in enumerate(marts["by_accuracy"])]
    # the same summary in `enrich status --json`
    status = json.loads(run_enrich(home, "status", "--json").stdout)["warehouse_figures"]["summary"]
    assert [w["wallet_address"] for w in status["top_by_pnl"]] == marts["by_pnl"]
    assert status["total_realized_pnl_usd"] == usd(marts["total"]).replace(",", "")


def test_report_page_renders_in_chromium(ran: tuple[Path, str], marts: dict, tmp_path: Path) -> None:
    home, _ = ran
    out = tmp_path / "site"
    assert run_enrich(home, "report", "--out", str(out)).stdout == f"wrote {out / 'index.html'}\n"
    page = (out / "index.html").read_text()
    # self-contained: no URL other than the SVG namespace and the empty favicon
    assert not re.findall(r"(?:src|href)=\"(?!data:)", page)
    assert set(re.findall(r"https?://[^\s\"']+", page)) <= {"http://www.w3.org/2000/svg"}
    driver = chromium()
    try:
        driver.get(out.joinpath("index.html").as_uri())
        bars = driver.find_elements("css selector", "#accuracy-histogram rect.bar")
        assert [int(b.get_attribute("data-count")) for b in bars] == marts["histogram"]
        heights = [b.rect["height"] for b in bars]
        assert all((h > 0) == (c > 0) for h, c in zip(heights, marts["histogram"], strict=True))
        categories = driver.find_elements("css selector", "#category-pnl rect.bar")
        shown = {c.get_attribute("data-category"): c.get_attribute("data-value") for c in categories}
        assert shown == {k: usd(v) for k, v in marts["category_pnl"].items()}
        assert all(c.rect["width"] > 0 for c in categories)
        for table_id, wallets in (("top-pnl", marts["by_pnl"]), ("top-accuracy", marts["by_accuracy"])):
            rows = [r.find_elements("css selector", "td")
                    for r in driver.find_elements("css selector", f"#{table_id} tbody tr")]
            assert [r[1].text for r in rows] == wallets
            assert [r[2].text for r in rows] == [usd(marts["wallet_pnl"][w]) for w in wallets]
            assert [r[3].text for r in rows] == [f"{float(marts['accuracy'][w]):.4f}" for w in wallets]
        gates = json.loads((home / "gates.last.json").read_text())
        labels = [r.find_element("css selector", "td").text
                  for r in driver.find_elements("css selector", "#gates tbody tr")]
        assert labels == [g["label"] for g in gates["gates"]] and len(labels) >= 5
        batches = driver.find_elements("css selector", "#batch-timings tbody tr")
        assert len(batches) == 2  # one batch of step D, one of step E on the tiny seed
        assert len(driver.find_elements("css selector", "#batch-chart rect.bar")) == 2
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        # the capture is live: an error logged now is seen
        driver.execute_script("console.error('report-test-probe')")
        assert any("report-test-probe" in e["message"] for e in driver.get_log("browser"))
    finally:
        driver.quit()


def test_report_before_any_run_names_the_fix(tiny_seed: Path, tmp_path: Path) -> None:
    home = seeded_copy(tiny_seed, tmp_path / "home")
    proc = run_enrich(home, "report", "--out", str(tmp_path / "site"), check=False)
    assert proc.returncode == 4
    assert proc.stderr.count("\n") == 1 and "run `enrich run` first" in proc.stderr, proc.stderr
    assert not (tmp_path / "site").exists()


def test_every_value_is_escaped() -> None:
    evil = "<script>alert(1)</script>\"'&"
    leader = {"rank": 1, "wallet_address": evil, "pnl_usd": "1.5", "accuracy": 0.5, "wins": 1, "losses": 1,
              "pushes": 0, "positions": 2}
    data = {
        "generated_at": evil, "home": evil, "target": evil, "database": evil,
        "summary": {"pairs": 1, "resolved_pairs": 1, "wallets": 1, "total_realized_pnl_usd": "1.5",
                    "fees_usd": "0", "rated_wallets": 1, "accuracy_quartiles": [0.5, 0.5, 0.5],
                    "min_resolved": 1, "top_by_pnl": [leader], "top_by_accuracy": [leader]},
        "histogram": [0] * 9 + [1],
        "categories": [{"category": evil, "pnl_usd": Decimal("-1.5"), "positions": 1, "wins": 0, "losses": 1,
                        "pushes": 0, "wallets": 1}],
        "gates": {"checked_at": evil, "scope": "all", "counts": {"pass": 0, "warn": 0, "fail": 1},
                  "gates": [{"label": evil, "status": evil, "expected": evil, "actual": evil, "fix": evil}]},
        "run": {"run_id": evil, "status": evil, "mode": evil, "step_request": evil, "started_at": evil,
                "updated_at": evil},
        "step_timings": [{"step": evil, "batches": 1, "pairs": 1, "rows": 1, "seconds": 1.0}],
        "batch_timings": [{"step": evil, "batch": 1, "key_lo": 0, "key_hi": 1, "pairs": 1, "rows": 1,
                           "seconds": 1.0, "finished_at": evil}],
    }
    page = render(data)
    assert "<script" not in page and "alert(1)</" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;") >= 10


def chromium():
    """Debian's Chromium through its chromedriver, headless, with the console captured."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, f"{', '.join(missing)} missing: `make browser` installs chromium and chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,2000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
