"""The README's screenshots (docs/web-*.png): a Zīme with a fake image model and a few
drawings, photographed in headless Chromium. Run `python -m tests.screenshots docs`."""

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
                    driver.delete_all_cookies()
                    driver.set_window_size(420, 900)  # a phone, as Telegram opens Mini Apps
                    driver.get(app)
                    wait_for(lambda: loaded(driver, ".card-job img"))
                    time.sleep(0.3)
                    driver.save_screenshot(str(out / "web-gallery.png"))

            await asyncio.to_thread(shoot)
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('web-*.png')))} to {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
