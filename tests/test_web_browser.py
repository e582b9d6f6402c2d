"""The dashboard and the gallery in a real browser: Debian's headless Chromium, driven by
Selenium through chromium-driver. An admin signs in through a /panelis link, sees a
thumbnail, presses 🔁 and sees the new job arrive; a Telegram user opens the Mini App with
signed initData, sees their picture and presses 🔁 there too."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.web_helpers import Site, init_data, site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
# Skipped where the browser is missing, except under CI (.ci/run installs it and sets this).
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER) and not os.environ.get("ZIME_REQUIRE_BROWSER"),
    reason="needs Debian's chromium and chromium-driver",
)


@contextlib.contextmanager
def chromium(shots: Path | None = None) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            value = check()
            if value:
                return value
        time.sleep(0.1)
    raise AssertionError(f"not seen in time: {what}")


def loaded(driver: Any, css: str) -> bool:
    """Every image matching `css` has loaded (a broken one has naturalWidth 0)."""
    return bool(
        driver.execute_script(
            "const imgs = [...document.querySelectorAll(arguments[0])];"
            "return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);",
            css,
        )
    )


async def test_an_admin_signs_in_sees_a_thumbnail_and_presses_again(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    async with site(tmp_path) as s:
        first = await s.draw("42", "a red cat on a roof")
        link = await s.link("1", "panelis")

        def browse() -> int:
            with chromium() as driver:
                driver.get(link)
                wait_for(lambda: driver.current_url.endswith("/admin"), what="the dashboard")
                assert "Overview" in driver.page_source
                driver.find_element(By.LINK_TEXT, "Jobs").click()
                wait_for(lambda: loaded(driver, "img.thumb"), what="a thumbnail")
                driver.find_element(By.LINK_TEXT, f"#{first}").click()
                wait_for(lambda: loaded(driver, "img.picture"), what="the picture")
                driver.find_element(By.CSS_SELECTOR, "button[value=again]").click()
                url = wait_for(
                    lambda: (
                        driver.current_url if f"/jobs/{first}" not in driver.current_url else ""
                    ),
                    what="the new job's page",
                )
                new = int(url.rsplit("/", 1)[-1])
                assert f"#{first}" in driver.find_element(By.TAG_NAME, "dl").text  # its lineage

                def arrived() -> bool:
                    driver.refresh()
                    return driver.find_element(By.ID, "job-status").text == "done" and loaded(
                        driver, "img.picture"
                    )

                wait_for(arrived, what="the new job drawn")
                driver.get(link)  # the link worked once
                assert "used or has expired" in driver.page_source
                return new

        new = await asyncio.to_thread(browse)
        job = await s.service.job(new)
        assert job is not None and job.parent_id == first and job.status == "done"


async def test_the_mini_app_shows_the_users_pictures_and_presses_again(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    async with site(tmp_path) as s:
        first = await s.draw("42", "a blue boat")
        await s.draw("43", "someone else's picture")
        url = f"{s.base}/app#tgWebAppData={quote(init_data(42))}&tgWebAppVersion=7.0"

        def open_app(s: Site) -> list[str]:
            with chromium() as driver:
                driver.get(url)
                wait_for(
                    lambda: (
                        driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
                    ),
                    what="the gallery",
                )
                wait_for(lambda: loaded(driver, ".card-job img"), what="the picture")
                cards = driver.find_elements(By.CSS_SELECTOR, ".card-job")
                assert [c.get_attribute("data-job") for c in cards] == [str(first)]
                assert "someone else" not in driver.page_source
                cards[0].find_element(By.CSS_SELECTOR, "button[data-action=again]").click()
                wait_for(
                    lambda: (
                        "Queued: #" in driver.find_element(By.ID, "message").text
                        or "Pieņemts: #" in driver.find_element(By.ID, "message").text
                    ),
                    what="the new job's id",
                )
                wait_for(
                    lambda: len(driver.find_elements(By.CSS_SELECTOR, ".card-job")) == 2,
                    what="the new job in the gallery",
                )
                return [
                    c.get_attribute("data-job")
                    for c in driver.find_elements(By.CSS_SELECTOR, ".card-job")
                ]

        ids = await asyncio.to_thread(open_app, s)
        assert ids[1] == str(first) and int(ids[0]) > first
        new = await s.finished(int(ids[0]))
        assert new.parent_id == first and new.user_id == "42"
