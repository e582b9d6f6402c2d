"""The README's screenshots (docs/web-*.png): a Zīme with a fake image model and a few
drawings, photographed in headless Chromium: the dashboard, and the Mini App at a phone's
390×844 (the gallery, the viewer, the region editor with a stroke). Run
`python -m tests.screenshots docs` with an emoji font installed (Debian's
fonts-noto-color-emoji), or the buttons' emoji show as boxes."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from tests.test_web_browser import chromium, loaded, wait_for
from tests.web_helpers import init_data, site

PROMPTS = (
    "Rīgas doms saulrietā, akvarelis",
    "Vanšu tilts ziemā bez cilvēkiem",
    "piparkūkas uz galda --n 4",
    "Brīvības piemineklis naktī",
)


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        async with site(Path(tmp), models={"safety_checker": "always"}) as s:
            s.generator.nsfw_on = "naktī"
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

            await asyncio.to_thread(shoot)
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('web-*.png')))} to {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
