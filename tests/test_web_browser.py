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
def chromium(shots: Path | None = None, phone: bool = False) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=390,844" if phone else "--window-size=1280,900",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    if phone:  # a window cannot be narrower than 500 px here: emulate the phone's viewport
        metrics = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
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

                def arrived() -> bool:  # no refresh: the page follows the job's events
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


async def test_no_dashboard_page_scrolls_sideways_on_a_phone(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    async with site(tmp_path, models={"safety_checker": "always"}) as s:
        s.generator.nsfw_on = "pludmale"
        first = await s.draw("42", "a very long text " * 12 + "pludmale --n 4 --ar 16:9")
        await s.draw("43", "Rīgas doms saulrietā, akvarelis")
        link = await s.link("1", "panelis")

        def widths() -> dict[str, int]:
            with chromium(phone=True) as driver:
                driver.get(link)
                wait_for(lambda: driver.current_url.endswith("/admin"), what="the dashboard")
                out = {}
                for page in ("", "/jobs", f"/jobs/{first}", "/flagged", "/users", "/concepts"):
                    driver.get(f"{s.base}/admin{page}")
                    wait_for(lambda: driver.find_element(By.TAG_NAME, "main"), what=page)
                    out[page] = driver.execute_script("return document.documentElement.scrollWidth")
                return out

        wide = {page: w for page, w in (await asyncio.to_thread(widths)).items() if w > 390}
        assert not wide, wide


async def test_the_mini_app_shows_the_users_pictures_and_presses_again(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    async with site(tmp_path) as s:
        first = await s.draw("42", "a blue boat")
        await s.draw("43", "someone else's picture")
        url = f"{s.base}/app#tgWebAppData={quote(init_data(42))}&tgWebAppVersion=7.0"

        def open_app(s: Site) -> list[str]:
            with chromium(phone=True) as driver:
                driver.get(url)
                ready(driver)
                wait_for(lambda: loaded(driver, ".card-job img"), what="the picture")
                cards = driver.find_elements(By.CSS_SELECTOR, ".card-job")
                assert [c.get_attribute("data-job") for c in cards] == [str(first)]
                assert "someone else" not in driver.page_source
                cards[0].click()  # the viewer: the picture full size and the actions
                wait_for(lambda: loaded(driver, "#viewer img.full"), what="the full picture")
                natural = driver.execute_script(
                    "return document.querySelector('#viewer img.full').naturalWidth"
                )
                assert natural == 64  # the PNG itself, not the thumbnail
                driver.find_element(By.CSS_SELECTOR, "button[data-action=again]").click()
                wait_for(
                    lambda: "Pieņemts: #" in driver.find_element(By.ID, "message").text,
                    what="the new job's id, in the user's Zīme language",
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


def ready(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    wait_for(
        lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1",
        what="the gallery",
    )


async def test_a_phone_user_redraws_a_region_and_watches_it_arrive(tmp_path: Path) -> None:
    """At 390×844: open a picture, paint a stroke with pointer events, send it with a text;
    the new job appears at once, turns into its picture without a reload, and outside the
    stroke (beyond the mask's blur) its pixels are the original's."""
    import numpy as np
    from PIL import Image
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from core.draw.regions import BLUR_PX

    async with site(tmp_path) as s:
        s.generator.step_s = 0.3  # slow enough to see it queued and drawing
        first = await s.draw("42", "a blue boat --soļi 4")
        url = f"{s.base}/app#tgWebAppData={quote(init_data(42))}&tgWebAppVersion=7.0"

        def paint() -> tuple[int, list[str]]:
            with chromium(phone=True) as driver:
                driver.get(url)
                ready(driver)
                wait_for(lambda: loaded(driver, ".card-job img"), what="the picture")
                wide = driver.execute_script("return document.documentElement.scrollWidth")
                assert wide <= 390, wide  # nothing scrolls sideways on the phone
                driver.find_element(By.CSS_SELECTOR, ".card-job").click()
                wait_for(lambda: loaded(driver, "#viewer img.full"), what="the viewer")
                driver.find_element(By.CSS_SELECTOR, "button[data-action=edit]").click()
                canvas = wait_for(
                    lambda: (
                        driver.find_element(By.ID, "editor-canvas").is_displayed()
                        and driver.find_element(By.ID, "editor-canvas")
                    ),
                    what="the editor",
                )
                box = canvas.rect  # a stroke across the top left quarter of the picture
                w, h = box["width"], box["height"]
                chain = ActionChains(driver)
                chain.move_to_element_with_offset(canvas, int(-w * 0.3), int(-h * 0.3))
                chain.click_and_hold()
                for k in range(1, 6):
                    chain.move_by_offset(int(w * 0.03), int(h * 0.02 * (k % 2)))
                chain.release().perform()
                driver.find_element(By.ID, "editor-text").send_keys("sarkans kaķis")
                driver.find_element(By.ID, "editor-draw").click()
                new = wait_for(
                    lambda: (
                        driver.find_elements(By.CSS_SELECTOR, ".card-job")[0].get_attribute(
                            "data-job"
                        )
                        != str(first)
                        and driver.find_elements(By.CSS_SELECTOR, ".card-job")[0].get_attribute(
                            "data-job"
                        )
                    ),
                    what="the new job at once",
                )
                states = []
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # live: queued/drawing, then the picture
                    # read in one script: the card is replaced when its picture arrives
                    text, done = driver.execute_script(
                        "const n = document.querySelector(arguments[0]);"
                        "const i = n && n.querySelector('img');"
                        "return [n ? n.textContent : '', !!(i && i.complete && i.naturalWidth)];",
                        f'.card-job[data-job="{new}"]',
                    )
                    states.append(text)
                    if done:
                        break
                    time.sleep(0.1)
                else:
                    raise AssertionError(f"the new job never turned into its picture: {states}")
                return int(new), states

        new_id, states = await asyncio.to_thread(paint)
        assert any("Zīmē" in x or "Rindā" in x for x in states), states  # progress, live
        new = await s.finished(new_id)
        original = await s.service.job(first)
        assert new.status == "done" and new.parent_id == first and new.kind == "region"
        assert original is not None and new.params.mask_image
        with Image.open(new.params.mask_image) as m:
            painted = np.asarray(m.convert("L")) > 127
        assert 0 < painted.sum() < painted.size // 2
        with Image.open(str(original.image_path)) as a, Image.open(str(new.image_path)) as b:
            before, after = np.asarray(a.convert("RGB"), int), np.asarray(b.convert("RGB"), int)
        ys, xs = np.nonzero(painted)
        reach = 3 * BLUR_PX * 64 / 512 + 1
        yy, xx = np.mgrid[0:64, 0:64]
        far = np.ones((64, 64), bool)
        for y, x in zip(ys, xs, strict=True):
            far &= (yy - y) ** 2 + (xx - x) ** 2 > reach**2
        assert far.sum() > 1000
        assert np.abs(before - after)[far].max() <= 1  # untouched outside the stroke
        assert np.abs(before - after)[painted].max() > 1  # and redrawn inside it


async def test_zoom_out_from_the_mini_app_viewer(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    async with site(tmp_path) as s:
        first = await s.draw("42", "a blue boat")
        url = f"{s.base}/app#tgWebAppData={quote(init_data(42))}&tgWebAppVersion=7.0"

        def zoom() -> str:
            with chromium(phone=True) as driver:
                driver.get(url)
                ready(driver)
                driver.find_element(By.CSS_SELECTOR, ".card-job").click()
                wait_for(lambda: loaded(driver, "#viewer img.full"), what="the viewer")
                button = driver.find_element(By.CSS_SELECTOR, "button[data-action=zoom]")
                assert button.text == "🔭 Attālināt"
                button.click()
                new = wait_for(
                    lambda: next(
                        c.get_attribute("data-job")
                        for c in driver.find_elements(By.CSS_SELECTOR, ".card-job")
                        if c.get_attribute("data-job") != str(first)
                    ),
                    what="the zoomed job",
                )
                wait_for(lambda: loaded(driver, f'.card-job[data-job="{new}"] img'), what="it")
                return str(new)

        job = await s.finished(int(await asyncio.to_thread(zoom)))
        assert job.kind == "zoom" and job.parent_id == first
        assert (job.params.width, job.params.height) == (96, 96)


async def test_describe_a_picture_in_the_viewer_and_draw_the_second_prompt(tmp_path: Path) -> None:
    """📝 in the Mini App viewer (/apraksti): four prompts, the picture's own text first;
    "Zīmēt 2" draws the second as the user's job, which appears in the gallery."""
    from selenium.webdriver.common.by import By

    from tests.test_describe import fake_describer

    async with site(tmp_path) as s:
        s.service._describer = fake_describer()
        first = await s.draw("42", "a blue boat")
        url = f"{s.base}/app#tgWebAppData={quote(init_data(42))}&tgWebAppVersion=7.0"

        def describe_and_draw() -> tuple[str, list[str]]:
            with chromium(phone=True) as driver:
                driver.get(url)
                ready(driver)
                driver.find_element(By.CSS_SELECTOR, ".card-job").click()
                wait_for(lambda: loaded(driver, "#viewer img.full"), what="the viewer")
                button = driver.find_element(By.CSS_SELECTOR, "button[data-action=describe]")
                assert button.text == "📝 Aprakstīt"
                button.click()
                rows = wait_for(
                    lambda: driver.find_elements(By.CSS_SELECTOR, "#viewer-described .prompt"),
                    what="the four prompts",
                )
                texts = [r.find_element(By.TAG_NAME, "span").text for r in rows]
                driver.find_element(By.CSS_SELECTOR, 'button[data-prompt="2"]').click()
                new = wait_for(
                    lambda: next(
                        c.get_attribute("data-job")
                        for c in driver.find_elements(By.CSS_SELECTOR, ".card-job")
                        if c.get_attribute("data-job") != str(first)
                    ),
                    what="the drawn prompt",
                )
                wait_for(lambda: loaded(driver, f'.card-job[data-job="{new}"] img'), what="it")
                return str(new), texts

        new, texts = await asyncio.to_thread(describe_and_draw)
        job = await s.finished(int(new))
        assert len(texts) == 4 and texts[0] == "1. a blue boat"
        assert job.user_id == "42" and job.request_text == texts[1].split(". ", 1)[1]
