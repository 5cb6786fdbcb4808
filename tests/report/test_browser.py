"""report.html in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`; scripts/test.sh installs them where missing) opens the study's and the
run's page from disk, takes a screenshot, and checks that every image loaded, the tables are
there, clicking a header sorts its table, a hostile study name ran nothing, and the console
shows no errors.

Skipped, with the reason, only where the browser or selenium cannot be had.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import nnstudy
from nnstudy.api import Study
from nnstudy.config.study import load_study

webdriver = pytest.importorskip("selenium.webdriver",
                                reason="selenium is not installed (pip install -e '.[dev]')")

HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
STUDY = {
    "name": f"browser {HOSTILE}",
    "data": {"name": "digits", "valid_fraction": 0.2},
    "model": {"mlp": {"hidden": [16]}},
    "train": {"epochs": 3, "batch_size": 64},
    "grid": {"train.optimizer": ["sgd", "adam"], "train.lr": [0.01, 0.1, 1.0]},
    "seeds": [0, 1],
    "select": {"per": ["train.optimizer"]},
}


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    chromium = os.environ.get("NNSTUDY_CHROMIUM") or _binary("chromium", "chromium-browser",
                                                             "google-chrome")
    driver_path = _binary("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium "
                    "chromium-driver; scripts/test.sh does it where it runs as root)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_window_size(1300, 2000)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    Study(load_study(STUDY)).run(out=root / "study", workers=1)
    nnstudy.train({"model": {"mlp": {"hidden": [16]}}, "train": {"epochs": 3}},
                  out=root / "run")
    return {"study": root / "study" / "report.html", "run": root / "run" / "report.html"}


def _open(browser, path: Path, screenshot: Path) -> None:
    browser.get(path.resolve().as_uri())
    browser.get_log("browser")  # what came before this page is not this page's
    browser.refresh()
    browser.execute_script("return document.readyState")
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1300, min(int(height) + 100, 16000))
    assert browser.save_screenshot(str(screenshot))


def _images_loaded(browser) -> list[int]:
    return browser.execute_script(
        "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : -1)")


def _errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_the_study_page_in_chromium(browser, pages, tmp_path):
    _open(browser, pages["study"], tmp_path / "study.png")
    assert (tmp_path / "study.png").stat().st_size > 10_000
    widths = _images_loaded(browser)
    assert len(widths) >= 8 and all(w > 0 for w in widths), widths
    tables = browser.find_elements("css selector", "table.sortable")
    assert len(tables) >= 4
    assert browser.execute_script("return window.pwned") is None  # the name ran nothing
    assert HOSTILE in browser.title
    # Sort the trials table by its "valid loss" column: a click sorts up, another down.
    trials = browser.find_element("css selector", "#s-trials table")
    headers = [h.text for h in trials.find_elements("css selector", "th")]
    column = headers.index("valid loss")

    def values():
        return [float(r.find_elements("css selector", "td")[column].text.replace("—", "nan"))
                for r in trials.find_elements("css selector", "tbody tr")]

    trials.find_elements("css selector", "th")[column].click()
    up = [v for v in values() if v == v]
    assert up == sorted(up) and len(up) >= 2
    trials.find_elements("css selector", "th")[column].click()
    down = [v for v in values() if v == v]
    assert down == sorted(down, reverse=True)
    assert _errors(browser) == []


def test_the_run_page_in_chromium(browser, pages, tmp_path):
    _open(browser, pages["run"], tmp_path / "run.png")
    widths = _images_loaded(browser)
    assert len(widths) == 5 and all(w > 0 for w in widths), widths
    assert browser.find_elements("css selector", "table.sortable")
    assert _errors(browser) == []
