"""The README's screenshots (docs/web-*.png): a Zīme with a fake image model and a few
drawings, photographed in headless Chromium: the dashboard, and the Mini App at a phone's
390×844 (the gallery, the viewer, the region editor with a stroke, 📝's four prompts). Run
`python -m tests.screenshots docs` with an emoji font installed (Debian's
fonts-noto-color-emoji), or the buttons' emoji show as boxes."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from core.lang.concepts import ConceptRegistry
from core.see.describe import Describer
from tests.test_web_browser import chromium, loaded, wait_for
from tests.web_helpers import init_data, site

PROMPTS = (
    "Rīgas doms saulrietā, akvarelis",
    "Vanšu tilts ziemā bez cilvēkiem",
    "piparkūkas uz galda --n 4",
    "Brīvības piemineklis naktī",
)


class Captioner:  # what BLIP might say of a cathedral at sunset
    def caption(self, image: Any, prompt: str = "") -> str:
        return "a tall church tower over old roofs" if not prompt else "a river and a bridge"


class Clip:  # no concept above the threshold; likes the sunset light and watercolour
    def scores(self, image: Any, texts: Sequence[str]) -> list[float]:
        return [0.3 if "sunset" in t or "watercolor" in t else 0.1 for t in texts]


WORDS = {  # as the English → Latvian translator would put these
    "a tall church tower over old roofs": "augsts baznīcas tornis virs veciem jumtiem",
    "a river and a bridge": "upe un tilts",
    "at sunset": "saulrietā",
}


class Latvian:
    name = "screenshot-en-lv"

    def translate(self, texts: Sequence[str], src: str = "en") -> list[str]:
        return [", ".join(WORDS.get(p, p) for p in t.split(", ")) for t in texts]


def describer() -> Describer:
    return Describer(Captioner(), Latvian(), Clip(), ConceptRegistry.load())


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        async with site(Path(tmp), models={"safety_checker": "always"}) as s:
            s.generator.nsfw_on = "naktī"
            s.service._describer = describer()
            for i, text in enumerate(PROMPTS):
                await s.draw("42" if i % 2 == 0 else "43", text)
            admin = await s.link("1", "panelis")
            app = f"{s.base}/app#tgWebAppData={quote(init_data(42))}&tgWebAppVersion=7.0"

            def shoot() -> None:
                from selenium.webdriver.common.action_chains import ActionChains
                from selenium.webdriver.common.by import By

                with chromium() as driver:
                    driver.get(admin)
                    wait_for(lambda: driver.current_url.endswith("/admin"))
                    driver.save_screenshot(str(out / "web-overview.png"))
                    driver.get(f"{s.base}/admin/jobs")
                    wait_for(lambda: loaded(driver, "img.thumb"))
                    driver.save_screenshot(str(out / "web-jobs.png"))
                    driver.get(f"{s.base}/admin/jobs/3")
                    wait_for(lambda: loaded(driver, "img.picture"))
                    driver.save_screenshot(str(out / "web-job.png"))
                with chromium(phone=True) as driver:  # as Telegram opens a Mini App: 390×844
                    driver.get(app)
                    wait_for(lambda: loaded(driver, ".card-job img"))
                    time.sleep(0.3)
                    driver.save_screenshot(str(out / "web-gallery.png"))
                    driver.find_elements(By.CSS_SELECTOR, ".card-job")[-1].click()
                    wait_for(lambda: loaded(driver, "#viewer img.full"))
                    time.sleep(0.2)
                    driver.save_screenshot(str(out / "web-viewer.png"))
                    driver.find_element(By.CSS_SELECTOR, "button[data-action=edit]").click()
                    canvas = wait_for(lambda: driver.find_element(By.ID, "editor-canvas"))
                    w = canvas.rect["width"]
                    chain = ActionChains(driver).move_to_element_with_offset(canvas, -w // 5, 0)
                    chain.click_and_hold()
                    for k in range(12):
                        chain.move_by_offset(
                            int(w * 0.03), int(w * 0.02) * (1 if k % 4 < 2 else -1)
                        )
                    chain.release().perform()
                    driver.find_element(By.ID, "editor-text").send_keys("sarkans kaķis")
                    time.sleep(0.2)
                    driver.save_screenshot(str(out / "web-editor.png"))
                    driver.execute_script("zime.back()")  # to the viewer: 📝 Aprakstīt
                    driver.find_element(By.CSS_SELECTOR, "button[data-action=describe]").click()
                    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".prompt button"))
                    driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
                    time.sleep(0.2)
                    driver.save_screenshot(str(out / "web-describe.png"))

            await asyncio.to_thread(shoot)
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('web-*.png')))} to {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
