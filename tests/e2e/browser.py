"""Driving Debian's headless chromium with Selenium, for the web pages' tests: the browser
itself (``open_browser``; the ``browser`` fixture is in conftest.py), waiting, reading the
page, its console's severe messages, and screenshots (in ``var/screenshots/``, git-ignored).

Fails, never skips, when chromium or chromedriver is missing (``make test`` installs them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from scripts.harness.processes import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "var" / "screenshots"


def open_browser() -> WebDriver:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: apt-get install chromium chromium-driver")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to check for CSP violations
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], object], what: str) -> None:
    """Wait for ``condition``; an element the page re-rendered meanwhile is looked up again."""
    WebDriverWait(driver, 10, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)).until(
        condition, message=f"waited 10 s for {what}"
    )


def click(driver: WebDriver, selector: str) -> None:
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector).click() or True, f"{selector} to click")


def text_of(driver: WebDriver, selector: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def wait_for_text(driver: WebDriver, selector: str, expected: str) -> None:
    wait_for(driver, lambda d: text_of(d, selector) == expected, f"{selector} to read {expected!r}")


def wait_for_match(driver: WebDriver, selector: str, pattern: str) -> None:
    wait_for(driver, lambda d: re.fullmatch(pattern, text_of(d, selector)), f"{selector} to match {pattern!r}")


def severe_messages(driver: WebDriver) -> list[str]:
    """What chromium logged as severe (a CSP violation, a script error, a refused request), without the origin."""
    return [
        re.sub(r"^http://[^/]+", "", entry["message"])
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
    ]


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    print(f"screenshot: {path}")
    return path
