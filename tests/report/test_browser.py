"""The evidence site in a real browser: Debian's headless Chromium driven by Selenium.

A site is built once for this module from smoke runs of two fast real labs and a toy lab that
states every kind of claim (holds, does not hold, inconclusive, a check, an
environment-dependent one, one with a formula) and has two runs and a verify run. Every page
is opened at a phone width (390 px) and a desktop width (1400 px) and must show no console
error, resolve every image and link, show the verdicts result.json records, and not scroll
sideways. Screenshots go to ``runs/site-screens/`` for review.

Needs ``chromium`` and ``chromedriver`` (``tools/ensure-system-deps.sh``) and ``selenium``
(the ``dev`` extra); under ``CI=true`` a missing one fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from deepdojo.labs import LABS, load_all, register_lab, run_lab, verify_lab
from deepdojo.labs.framework import rules as R
from deepdojo.report import build_site
from tests.deepdojo_testing import require, require_program

CHROMIUM = require_program("chromium", apt="chromium")
CHROMEDRIVER = require_program("chromedriver", apt="chromium-driver")
webdriver = require("selenium.webdriver", extra="dev")

TOY = "zz-browser-toy"
REAL_LABS = ("weight-initialization", "learning-rate")
WIDTHS = {"phone": (390, 844), "desktop": (1400, 900)}
SCREENS = Path(__file__).resolve().parents[2] / "runs" / "site-screens"


@dataclass
class ToyConfig:
    shift: float = 0.0  # added to the measured values (a second run moves them)


def _toy(cfg: ToyConfig, ctx) -> None:
    """Every kind of claim the site must show."""
    n = len(ctx.seeds)
    ctx.claim("toy-holds", r"The penalty $\lambda \sum_i |w_i|$ shrinks weights",
              R.Greater(margin=0.1), a=[1.0 + 0.01 * i for i in range(n)], b=[0.5] * n)
    ctx.claim("toy-fails", "Toy gap is tiny", R.EverySeed(R.AtMost(1e-6)),
              values=[0.125 + cfg.shift] * n, metric="gap",
              why={"does not hold": "the gap stays at {max:.3f}"})
    ctx.claim("toy-unsure", "Toy beats the baseline", R.Greater(margin=cfg.shift),
              a=[0.5, 0.7, 0.4, 0.6, 0.45, 0.5, 0.5][:n], b=[0.5] * n)
    ctx.claim("toy-time", "Toy step is fast", R.AtMost(1.0),
              values=[0.2 + 0.01 * i for i in range(n)], environment_dependent=True)
    ctx.claim("toy-check", "Two plus two", R.EverySeed(R.AtLeast(4.0)), values=[4.0] * n,
              kind="check")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    load_all()
    register_lab(TOY, questions=("Q08",), config=ToyConfig)(_toy)
    runs = tmp_path_factory.mktemp("browser") / "runs"
    try:
        older = run_lab(TOY, scale="quick", seed=5, out=runs, progress="off",
                        overrides={"shift": 0.3})
        data = json.loads((older.path / "result.json").read_text())
        data["started"] = "2000-01-01T00:00:00+00:00"  # clearly older than the next run
        (older.path / "result.json").write_text(json.dumps(data))
        run_lab(TOY, scale="quick", seed=3, out=runs, progress="off")
        verify_lab(TOY, seed_sets=2, scale="quick", seed=3, out=runs, progress="off")
        for name in REAL_LABS:
            run_lab(name, scale="smoke", out=runs, progress="off")
        build_site(runs, runs.parent / "site", warn=lambda m: None)
        yield runs.parent / "site"
    finally:
        LABS.pop(TOY, None)


@pytest.fixture(scope="module")
def driver():
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield browser
    browser.quit()


def _pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


# one round trip per page: everything the checks need
_PROBE = """
const out = {errors: [], imgs: [], links: [], ids: [], rows: []};
out.scroll = document.documentElement.scrollWidth;
out.inner = window.innerWidth;
for (const el of document.querySelectorAll('[id]')) out.ids.push(el.id);
for (const img of document.images) out.imgs.push({src: img.getAttribute('src'),
    math: img.classList.contains('math'), w: img.naturalWidth, done: img.complete});
for (const a of document.querySelectorAll('a[href]')) out.links.push(a.getAttribute('href'));
for (const tr of document.querySelectorAll('tr[data-claim]')) {
  const section = tr.closest('section.lab');
  const badge = tr.querySelector('td.verdict .badge');
  out.rows.push({lab: section ? section.id.slice(4) : null, claim: tr.dataset.claim,
                 verdict: tr.dataset.verdict, badge: badge ? badge.textContent : ''});
}
return out;
"""


def _check_page(driver, site: Path, page: Path, results: dict[str, dict]) -> list[str]:
    """Problems found on ``page`` as currently loaded (empty: none)."""
    problems = []
    probe = driver.execute_script(_PROBE)
    for entry in driver.get_log("browser"):
        if entry["level"] in ("SEVERE", "ERROR"):
            problems.append(f"console: {entry['message']}")
    if probe["scroll"] > probe["inner"]:
        problems.append(f"scrolls sideways: {probe['scroll']} > {probe['inner']} px")
    for img in probe["imgs"]:
        src = img["src"] or ""
        if src.startswith("data:image/"):
            if img["done"] and img["w"] == 0:
                problems.append(f"formula image did not decode: {src[:40]}")
        elif not (page.parent / unquote(src)).resolve().is_file():
            problems.append(f"missing image {src}")
    for href in probe["links"]:
        parsed = urlparse(href)
        if parsed.scheme in ("http", "https"):
            if not parsed.netloc or " " in href:
                problems.append(f"malformed link {href}")
            continue
        if parsed.scheme or href.startswith(("/", "//")):
            problems.append(f"non-relative link {href}")
            continue
        if not parsed.path:
            if parsed.fragment not in probe["ids"]:
                problems.append(f"dangling anchor {href}")
        elif not (page.parent / unquote(parsed.path)).resolve().is_file():
            problems.append(f"broken link {href}")
    lab_here = page.parent.name if page.parent.parent.name == "labs" else None
    for row in probe["rows"]:
        lab = row["lab"] or lab_here
        claims = {c["id"]: c for c in results[lab]["claims"]}
        want = claims[row["claim"]]["verdict"]
        if row["verdict"] != want or want not in row["badge"]:
            problems.append(f"{lab}/{row['claim']}: shows {row['badge']!r}, result.json {want}")
    return problems


def _full_page_screenshot(driver, path: Path, width: str) -> None:
    """The whole page (up to 5000 px tall), for review; the window is restored after."""
    w, h = WIDTHS[width]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    if height > h:
        driver.set_window_size(w, min(height, 5000))
    driver.save_screenshot(str(path))
    if height > h:
        driver.set_window_size(w, h)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page(site, driver, width):
    results = {p.parent.name: json.loads(p.read_text())
               for p in site.glob("labs/*/result.json")}
    assert set(results) >= {TOY, *REAL_LABS}
    driver.set_window_size(*WIDTHS[width])
    SCREENS.mkdir(parents=True, exist_ok=True)
    start, problems, rows = time.perf_counter(), {}, 0
    pages = _pages(site)
    assert len(pages) == 1 + 20 + len(results)
    for page in pages:
        driver.get(page.as_uri())
        found = _check_page(driver, site, page, results)
        if found:
            problems[str(page.relative_to(site))] = found
        rows += len(driver.find_elements("css selector", "tr[data-claim]"))
        name = "-".join(page.relative_to(site).with_suffix("").parts)
        _full_page_screenshot(driver, SCREENS / f"{name}-{WIDTHS[width][0]}.png", width)
    elapsed = time.perf_counter() - start
    print(f"{len(pages)} pages at {width} width checked in {elapsed:.1f} s, {rows} claim rows")
    assert not problems, json.dumps(problems, indent=1)
    assert rows >= 2 * 5  # the toy lab's claims on its page and on Q08's


def test_search_box_finds_a_question_and_a_claim(site, driver):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(*WIDTHS["desktop"])
    driver.get((site / "labs" / TOY / "index.html").as_uri())  # a page two folders down
    box = driver.find_element("id", "search-box")
    box.send_keys("why does zero init fail")  # a question in plain words
    wait = WebDriverWait(driver, 5)
    wait.until(lambda d: d.find_elements("css selector", "#search-results a"))
    hrefs = [a.get_attribute("href") for a in
             driver.find_elements("css selector", "#search-results a")]
    assert any(h.endswith("/questions/Q09.html") or h.endswith("/questions/Q08.html")
               for h in hrefs), hrefs
    SCREENS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENS / "search-1400.png"))
    box.clear()
    box.send_keys("gap is tiny")
    wait.until(lambda d: "Toy gap is tiny" in d.find_element("id", "search-results").text)
    box.send_keys(Keys.ENTER)  # Enter opens the first result
    wait.until(lambda d: d.current_url.endswith(f"/labs/{TOY}/index.html#claim-toy-fails"))
    assert driver.find_element("id", "claim-toy-fails").is_displayed()
    box = driver.find_element("id", "search-box")
    box.clear()  # a jump within the page keeps the box's text
    box.send_keys("qqqzzz")
    wait.until(lambda d: "No match" in d.find_element("id", "search-results").text)
    # on a phone the open list stays inside the screen
    driver.set_window_size(*WIDTHS["phone"])
    driver.get((site / "questions" / "Q08.html").as_uri())
    driver.find_element("id", "search-box").send_keys("learning rate")
    wait.until(lambda d: d.find_elements("css selector", "#search-results a"))
    driver.save_screenshot(str(SCREENS / "search-390.png"))
    assert driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")
    box = driver.find_element("id", "search-results").rect
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTHS["phone"][0]
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_claims_at_a_glance(site, driver):
    driver.set_window_size(*WIDTHS["desktop"])
    driver.get((site / "labs" / TOY / "index.html").as_uri())
    find = driver.find_elements
    # the formula is drawn, not shown as TeX source
    maths = find("css selector", "#claim-toy-holds img.math")
    assert len(maths) == 1 and maths[0].get_property("naturalWidth") > 10
    assert "$" not in driver.find_element("id", "claim-toy-holds").text
    # interval bars for claims with an interval; the margin drawn as a dashed line
    assert find("css selector", "#claim-toy-holds svg.ibar line[stroke-dasharray]")
    assert find("css selector", "#claim-toy-unsure svg.ibar rect")
    # why only where the verdict is not "holds"; environment-dependent marked
    assert "the gap stays at 0.125" in driver.find_element("id", "claim-toy-fails").text
    assert not find("css selector", "#claim-toy-holds .why")
    assert "environment-dependent" in driver.find_element("id", "claim-toy-time").text
    assert "stable 2/2 seed sets" in driver.find_element("id", "claim-toy-holds").text
    # the check sits in its own table, apart from the findings
    assert find("css selector", "table.checks #claim-toy-check")
    assert not find("css selector", "table.findings #claim-toy-check")
    # run history: two runs, the moved verdict flagged
    history = driver.find_element("css selector", "table.history")
    assert len(history.find_elements("css selector", "th.run-col")) == 2
    moved = history.find_elements("css selector", "tr.moved")
    assert moved and "Toy beats the baseline" in moved[0].text


def test_index_counts_findings_not_checks(site, driver):
    driver.get((site / "index.html").as_uri())
    row = driver.find_element("id", "Q08").text
    claims = [c for p in site.glob("labs/*/result.json") for r in [json.loads(p.read_text())]
              if "Q08" in r["questions"] for c in r["claims"]]
    findings = [c for c in claims if c["kind"] == "finding"]
    checks = [c for c in claims if c["kind"] == "check"]
    assert checks and findings
    holds = sum(c["verdict"] == "holds" for c in findings)
    passing = sum(c["verdict"] == "holds" for c in checks)
    assert f"{holds} hold" in row and f"{passing}/{len(checks)} checks pass" in row
    assert f"{holds + passing} hold" not in row
