#!/usr/bin/python3
"""Drives the stache web page in real headless Chromium (Debian's chromium and
chromium-driver, through Debian's python3-selenium) against a running gateway:
uploads a photo through the page, waits for the mustached result, checks it is
displayed and that the gallery shows it, checks the error message for a file
that is not a photo, keyboard reachability and the phone-sized layout, deletes
the upload from the gallery, and saves screenshots. A second browser profile
(another visitor) uploads too: each sees only their own photos, the other's
cannot be deleted (no button, and a forged request is refused), a shared
result link opens in the other profile, and once deleted the link is gone
there too, not served from its cache.

    upload_in_browser.py --url http://127.0.0.1:8000 --photo grace_hopper.jpg \
        --screenshot-dir build/tests/e2e/screenshots

Exits 0 when every check passed; otherwise prints what failed and exits 1.
Run by tests/e2e/browser_test.cc (ctest label "browser").
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 30


def log(message):
    print(f"browser: {message}", flush=True)


def make_driver(profile_dir, width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium never tries to download one.
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(driver, condition, what):
    try:
        return WebDriverWait(driver, WAIT_SECONDS).until(lambda d: condition(d))
    except TimeoutException:
        error = driver.find_element(By.ID, "error")
        raise AssertionError(
            f"timed out waiting for {what}; the page's error box says: {error.text!r}")


def image_loaded(driver, element_id):
    return driver.execute_script(
        "const img = document.getElementById(arguments[0]);"
        "return img !== null && img.complete && img.naturalWidth > 0;", element_id)


def upload_through_page(driver, photo, style):
    """Picks `style`, gives the photo to the file input, waits for the result;
    returns the image id."""
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'input[name="style"]'),
             "the style picker")
    driver.find_element(By.CSS_SELECTOR, f'label[for="style-{style}"]').click()
    previous = driver.execute_script(
        "return document.getElementById('result-image').dataset.imageId || ''")
    driver.find_element(By.ID, "file-input").send_keys(photo)
    wait_for(driver,
             lambda d: d.execute_script(
                 "const img = document.getElementById('result-image');"
                 "return !document.getElementById('result').hidden &&"
                 " (img.dataset.imageId || '') !== arguments[0];", previous),
             "the result of the upload")
    image_id = driver.execute_script(
        "return document.getElementById('result-image').dataset.imageId")
    wait_for(driver, lambda d: image_loaded(d, "result-image"), "the result image to load")
    wait_for(driver, lambda d: image_loaded(d, "original-image"), "the original image to load")
    return image_id


def save_full_page(driver, path):
    """A screenshot of the whole page, not just the part in the window."""
    width, height = driver.execute_script(
        "return [window.outerWidth, window.outerHeight]")
    page_height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_script("window.scrollTo(0, 0)")
    driver.set_window_size(width, max(height, page_height + 140))
    driver.save_screenshot(path)
    driver.set_window_size(width, height)
    log(f"screenshot {path}")


def check_desktop(driver, url, photo, screenshot_dir):
    driver.get(url)
    assert driver.title.startswith("stache"), driver.title

    image_id = upload_through_page(driver, photo, "handlebar")
    log(f"uploaded {image_id}")
    result_src = driver.find_element(By.ID, "result-image").get_attribute("src")
    assert result_src.endswith(f"/v1/images/{image_id}/result"), result_src
    summary = driver.find_element(By.ID, "result-summary").text
    assert "1 face found" in summary, summary
    assert "handlebar" in summary, summary
    download = driver.find_element(By.ID, "download")
    assert download.get_attribute("href").endswith(f"/v1/images/{image_id}/result")
    assert download.get_attribute("download").startswith("stache-")
    progress = driver.find_element(By.ID, "progress")
    assert progress.get_attribute("value") == "100", progress.get_attribute("value")

    # The gallery shows the upload, with its thumbnail loaded.
    selector = f'#gallery li[data-image-id="{image_id}"] img'
    wait_for(driver,
             lambda d: d.execute_script(
                 "const img = document.querySelector(arguments[0]);"
                 "return img !== null && img.complete && img.naturalWidth > 0;", selector),
             "the upload in the gallery")
    log("the gallery shows it")

    # The service panel lists the gateway and every backend.
    driver.find_element(By.CSS_SELECTOR, "#info-details summary").click()
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#info-table tbody tr")) >= 4,
             "the service panel")
    # Read in one go: the panel re-renders when it refreshes.
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#info-table tbody tr')]"
        ".map(row => [...row.cells].map(cell => cell.textContent))")
    services = [row[0] for row in rows]
    for name in ("gateway", "detector", "overlay", "storage"):
        assert name in services, rows
    assert all(row[1] == "SERVING" for row in rows), rows

    save_full_page(driver, os.path.join(screenshot_dir, "stache-desktop.png"))
    return image_id


def check_not_a_photo(driver, screenshot_dir):
    """A file that claims to be a JPEG but is not: the gateway answers 415 and
    the page says so in words."""
    fake = os.path.join(tempfile.mkdtemp(), "holiday.jpg")
    with open(fake, "w") as out:
        out.write("this is a text file, not a photo\n")
    driver.find_element(By.ID, "file-input").send_keys(fake)
    wait_for(driver, lambda d: d.find_element(By.ID, "error").is_displayed(), "an error message")
    message = driver.find_element(By.ID, "error").text
    assert "not a photo" in message, message
    driver.save_screenshot(os.path.join(screenshot_dir, "stache-error.png"))
    log(f"415 shown as: {message}")


def check_keyboard(driver):
    """Tab reaches the style picker, the file picker and the gallery buttons."""
    driver.execute_script("window.scrollTo(0, 0); document.activeElement.blur();")
    reached = set()
    for _ in range(60):
        # Keys go to whatever has focus, as from a keyboard (sending them to
        # the file input itself would be read as a file name).
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        reached.add(active.get_attribute("id") or active.get_attribute("class") or
                    active.tag_name)
    for wanted in ("file-input", "format"):
        assert wanted in reached, f"Tab never reached #{wanted}: {sorted(reached)}"
    assert any(item.startswith("style-") for item in reached), sorted(reached)
    assert "gallery-open" in reached or "danger" in reached, sorted(reached)
    log("keyboard reaches the controls")


def check_phone(driver, url, photo, screenshot_dir):
    driver.set_window_size(390, 844)
    driver.get(url)
    upload_through_page(driver, photo, "pencil")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    # Original and result stay side by side, each big enough to compare.
    boxes = driver.execute_script(
        "return [...document.querySelectorAll('.side-by-side img')].map(img => {"
        "  const box = img.getBoundingClientRect();"
        "  return [box.left, box.top, box.width]; })")
    (left_a, top_a, width_a), (left_b, top_b, width_b) = boxes
    assert abs(top_a - top_b) < 1 and left_a < left_b, boxes
    assert min(width_a, width_b) > 120, boxes
    save_full_page(driver, os.path.join(screenshot_dir, "stache-phone.png"))


def check_delete(driver, url, image_id):
    driver.set_window_size(1280, 1000)
    driver.get(url)
    item = f'#gallery li[data-image-id="{image_id}"]'
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, item), "the gallery item")
    driver.find_element(By.CSS_SELECTOR, f"{item} button.danger").click()
    driver.switch_to.alert.accept()
    wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, item),
             "the item to leave the gallery")
    try:
        urllib.request.urlopen(f"{url}/v1/images/{image_id}", timeout=10)
        raise AssertionError("the deleted image is still there")
    except urllib.error.HTTPError as error:
        assert error.code == 404, error.code
        body = json.loads(error.read())
        assert body["error"]["status"] == "NOT_FOUND", body
    log("deleted from the gallery")


def gallery_ids(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#gallery li')].map(li => li.dataset.imageId)")


def check_second_visitor(driver_a, driver_b, url, photo, a_image_id):
    """Profile B uploads; each profile sees only its own; B cannot delete
    A's photo; A's shared result link opens in B. Returns B's image id."""
    driver_b.get(url)
    b_image_id = upload_through_page(driver_b, photo, "pencil")
    log(f"the second visitor uploaded {b_image_id}")
    wait_for(driver_b, lambda d: b_image_id in gallery_ids(d), "B's upload in B's gallery")
    assert a_image_id not in gallery_ids(driver_b), gallery_ids(driver_b)
    # No delete button for A's photo anywhere in B's page.
    assert not driver_b.find_elements(
        By.CSS_SELECTOR, f'#gallery li[data-image-id="{a_image_id}"] button.danger')
    driver_a.get(url)
    wait_for(driver_a, lambda d: a_image_id in gallery_ids(d), "A's upload in A's gallery")
    assert b_image_id not in gallery_ids(driver_a), gallery_ids(driver_a)
    log("each visitor sees only their own photos")

    # A forged delete from B's page, with and without the page's header.
    for headers in ("{'X-Stache-Client': 'web'}", "{}"):
        status = driver_b.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            f"fetch('/v1/images/{a_image_id}', {{method: 'DELETE', headers: {headers}}})"
            ".then(r => done(r.status), e => done(String(e)));")
        assert status in (403, 404), f"B deleting A's photo got {status}"
    log("the second visitor cannot delete the first one's photo")

    # A's result, shared by its link, opens in B.
    driver_b.get(f"{url}/v1/images/{a_image_id}/result")
    wait_for(driver_b,
             lambda d: d.execute_script(
                 "const img = document.images[0];"
                 "return img !== undefined && img.complete && img.naturalWidth > 0;"),
             "A's shared result in B's browser")
    log("a shared result link opens in the other profile")
    return b_image_id


def check_link_gone_after_delete(driver_b, url, a_image_id):
    """After A deleted it, B's reload of the link is a 404, not its cache."""
    driver_b.get(f"{url}/v1/images/{a_image_id}/result")
    driver_b.refresh()
    status = driver_b.execute_script(
        "const nav = performance.getEntriesByType('navigation')[0];"
        "return nav && nav.responseStatus !== undefined ? nav.responseStatus : -1;")
    text = driver_b.execute_script("return document.body ? document.body.innerText : ''")
    shows_image = driver_b.execute_script(
        "const img = document.images[0];"
        "return img !== undefined && img.complete && img.naturalWidth > 0;")
    assert not shows_image, "the deleted photo is still shown (from a cache?)"
    assert "NOT_FOUND" in text, text
    assert status in (404, -1), status
    log("after deletion the shared link is 404 in the other profile")


def check_console(driver):
    """No script errors and no Content-Security-Policy violations (which
    would mean something tried to load from elsewhere)."""
    problems = [entry["message"] for entry in driver.get_log("browser")
                if entry["level"] == "SEVERE" and "/v1/images" not in entry["message"]]
    assert not problems, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--photo", required=True)
    parser.add_argument("--screenshot-dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.screenshot_dir, exist_ok=True)

    profile_dir = tempfile.mkdtemp(prefix="stache-chromium-")
    # Another visitor: a profile of its own, so cookies and cache of its own.
    other_profile_dir = tempfile.mkdtemp(prefix="stache-chromium-other-")
    driver = make_driver(profile_dir, 1280, 1000)
    other = None
    try:
        photo = os.path.abspath(args.photo)
        image_id = check_desktop(driver, args.url, photo, args.screenshot_dir)
        check_console(driver)
        check_not_a_photo(driver, args.screenshot_dir)
        check_keyboard(driver)
        check_phone(driver, args.url, photo, args.screenshot_dir)
        other = make_driver(other_profile_dir, 1280, 1000)
        check_second_visitor(driver, other, args.url, photo, image_id)
        check_delete(driver, args.url, image_id)
        check_link_gone_after_delete(other, args.url, image_id)
        check_console(driver)
    except Exception as error:  # any failure: keep a picture of the page
        path = os.path.join(args.screenshot_dir, "stache-failure.png")
        driver.save_screenshot(path)
        if other is not None:
            other.save_screenshot(os.path.join(args.screenshot_dir, "stache-failure-other.png"))
        print(f"browser: FAILED: {error!r} (screenshot {path})", flush=True)
        return 1
    finally:
        driver.quit()
        if other is not None:
            other.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)
        shutil.rmtree(other_profile_dir, ignore_errors=True)
    log("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
