#!/usr/bin/env python3
"""The analyst console in a real browser (issue #19): Debian's Chromium driven
by chromium-driver through python3-selenium.

serve on port 0, the demo scenario ingested; log in with an analyst's own
token; the overview; the campaign list ranked by score; the highest-scoring
campaign with its graph drawn; one member's account page; an override with a
reason, and /v1/check for that account changes; the review queue, one account
cleared (blocked with a reason); the block decision found in the decision
log; a case opened. A screenshot of each view is kept in ARTIFACTS/console/,
and any error in the browser's console fails the test.

usage: console_browser_test.py DISTILLGUARD ARTIFACTS_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service as ChromeService  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

BINARY = sys.argv[1]
ARTIFACTS = os.path.join(sys.argv[2], "console")
WORK = tempfile.mkdtemp(prefix="dg-console-browser-")
GATEWAY_TOKEN = "browser-test-gateway-token-0001"
ANALYST_TOKEN = "browser-test-analyst-token-0001"
ALICE_TOKEN = "alice-own-token-0123456789"


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,1100",
              "--disable-extensions", "--no-first-run", "--disable-background-networking"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=ChromeService(executable_path="/usr/bin/chromedriver"), options=opts)


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    demo = os.path.join(WORK, "demo")
    subprocess.run([BINARY, "simulate", "--scenario", "demo", "--seed", "7", "--out", demo], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for name, token in (("gateway", GATEWAY_TOKEN), ("analyst", ANALYST_TOKEN)):
        with open(os.path.join(WORK, name), "w") as f:
            f.write(token + "\n")
    with open(os.path.join(WORK, "analysts"), "w") as f:
        f.write("# name token\nalice " + ALICE_TOKEN + "\n")
    srv = dgtest.Server(BINARY, WORK, os.path.join(WORK, "data"),
                        extra=["--gateway-token-file", os.path.join(WORK, "gateway"), "--analyst-token-file",
                               os.path.join(WORK, "analyst"), "--analysts-file", os.path.join(WORK, "analysts")],
                        token=None)
    srv.token = ANALYST_TOKEN
    driver = None
    try:
        with open(os.path.join(demo, "events.jsonl"), "rb") as f:
            status, body, _ = srv.request("POST", "/v1/events", f.read(), timeout=300)
        check(status == 200 and body["accepted"] > 30000, f"demo ingested ({body})")
        _, camps, _ = srv.request("GET", "/v1/console/campaigns")
        top = camps["campaigns"][0]
        check(all(top["score"] >= c["score"] for c in camps["campaigns"]), "the API ranks campaigns by score")

        driver = browser()
        # Views re-render after each action: elements found before go stale.
        wait = WebDriverWait(driver, 30, ignored_exceptions=[StaleElementReferenceException, NoSuchElementException])
        base = f"http://127.0.0.1:{srv.port}/ui/"

        def shot(name):
            # The whole page (up to 2,400 px high), then the window as it was.
            height = min(2400, max(900, driver.execute_script("return document.documentElement.scrollHeight")))
            driver.set_window_size(1440, height)
            time.sleep(0.5)  # charts and the graph settle
            driver.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))
            driver.set_window_size(1440, 1100)

        # Login.
        driver.get(base)
        wait.until(EC.presence_of_element_located((By.ID, "login-token")))
        shot("00-login")
        driver.find_element(By.ID, "login-token").send_keys(ALICE_TOKEN)
        driver.find_element(By.ID, "login-submit").click()
        wait.until(EC.presence_of_element_located((By.ID, "stat-campaigns")))
        check(driver.find_element(By.ID, "who").text == "alice", "logged in as alice")
        cookies = {c["name"]: c for c in driver.get_cookies()}
        check("dg_session" in cookies and cookies["dg_session"]["httpOnly"] and cookies["dg_session"].get("sameSite") == "Strict",
              "session cookie is HttpOnly and SameSite=Strict")
        check(driver.execute_script("return document.cookie").find("dg_session") < 0, "the page's script cannot read the session")
        wait.until(lambda d: d.find_element(By.ID, "stat-campaigns").text.strip() not in ("", "-"))
        shot("01-overview")

        # Campaign list, ranked by score; open the highest-scoring one.
        driver.find_element(By.ID, "nav-campaigns").click()
        wait.until(EC.presence_of_element_located((By.ID, "campaign-table")))
        first = driver.find_elements(By.CSS_SELECTOR, "#campaign-table a.campaign-link")[0]
        check(first.text == top["campaign_id"], f"first row is the highest-scoring campaign ({first.text} == {top['campaign_id']})")
        shot("02-campaigns")
        first.click()
        graph = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-drawn='1']")))
        nodes = int(graph.get_attribute("data-nodes"))
        edges = int(graph.get_attribute("data-edges"))
        check(nodes == top["account_count"] and nodes > 0, f"graph drawn with its {nodes} accounts")
        check(edges > 0, f"graph has {edges} edges (shared indicators)")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#graph canvas")) > 0, "graph drawn on a canvas")
        shot("03-campaign")
        time.sleep(3.5)  # past the overview's refresh period: nothing of another view may touch this one
        charts = driver.find_elements(By.CSS_SELECTOR, ".chart .uplot")
        check(len(charts) >= 3, f"campaign charts drawn ({len(charts)}: waves, volume and tokens, models)")
        check(len(driver.find_elements(By.CSS_SELECTOR, "table.heatmap td.hm")) == 24 * min(40, nodes), "hour-of-day heat map")

        # One member's account page; override it with a reason.
        member = driver.find_elements(By.CSS_SELECTOR, "#member-table a.account-link")[0]
        account = member.text
        _, before, _ = srv.check(account_id=account)
        member.click()
        wait.until(EC.presence_of_element_located((By.ID, "override-submit")))
        wait.until(EC.presence_of_element_located((By.ID, "timeline-table")))
        shot("04-account")
        action = "allow" if before["decision"] != "allow" else "block"
        Select(driver.find_element(By.ID, "override-action")).select_by_value(action)
        driver.find_element(By.ID, "override-submit").click()
        wait.until(lambda d: d.find_element(By.ID, "override-msg").text != "")
        check("reason" in driver.find_element(By.ID, "override-msg").text, "an override without a reason is refused")
        driver.find_element(By.ID, "override-reason").send_keys("browser test: verified by phone")
        driver.find_element(By.ID, "override-submit").click()
        wait.until(EC.presence_of_element_located((By.ID, "override-table")))
        rows = driver.find_element(By.ID, "override-table").text
        check("browser test: verified by phone" in rows and "alice" in rows, "override shown with who and why")
        _, after, _ = srv.check(account_id=account)
        check(after["decision"] != before["decision"] and after["decision"] == ("allow" if action == "allow" else "block"),
              f"/v1/check for {account} changed: {before['decision']} -> {after['decision']}")
        shot("05-account-overridden")

        # Review queue: clear the oldest account (block, with a reason).
        driver.find_element(By.ID, "nav-review").click()
        wait.until(EC.presence_of_element_located((By.ID, "review-table")))
        queue = driver.find_elements(By.CSS_SELECTOR, "#review-table tbody tr")
        check(len(queue) > 0, f"{len(queue)} accounts in the review queue")
        shot("06-review")
        row = queue[0]
        reviewed = row.get_attribute("data-account")
        row.find_element(By.CSS_SELECTOR, "input.review-reason").send_keys("browser test: same card as a blocked ring")
        row.find_element(By.CSS_SELECTOR, "button.block").click()
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"#review-table tbody tr[data-account='{reviewed}']"))
        check(True, f"{reviewed} left the review queue")
        shot("07-review-cleared")
        # The gateway asks about it: the block is answered, and logged.
        _, gw, _ = srv.request("POST", "/v1/check", json.dumps({"account_id": reviewed}), token=GATEWAY_TOKEN)
        check(gw["decision"] == "block", f"/v1/check for {reviewed}: block")

        # Decision log: find that block.
        driver.find_element(By.ID, "nav-decisions").click()
        wait.until(EC.presence_of_element_located((By.ID, "decision-form")))
        driver.find_element(By.ID, "d-account").send_keys(reviewed)
        Select(driver.find_element(By.ID, "d-decision")).select_by_value("block")
        driver.find_element(By.ID, "decision-search").click()
        found = wait.until(lambda d: [t for t in d.find_elements(By.CSS_SELECTOR, "#decision-results table tbody tr")
                                      if reviewed in t.text and "block" in t.text])
        check(len(found) >= 1, "the block decision is in the decision log")
        shot("08-decisions")

        # Cases: open the campaign as a case, set it investigating.
        driver.get(base + "#/campaign/" + top["campaign_id"])
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-drawn='1']")))
        driver.find_element(By.ID, "open-case").click()
        wait.until(EC.presence_of_element_located((By.ID, "case-status")))
        Select(driver.find_element(By.ID, "case-status")).select_by_value("investigating")
        driver.find_element(By.ID, "case-assignee").send_keys("alice")
        driver.find_element(By.ID, "case-note").send_keys("looking at the card issuer")
        driver.find_element(By.ID, "case-save").click()
        wait.until(lambda d: "investigating" in d.find_element(By.ID, "case-events").text)
        shot("09-case")
        driver.find_element(By.ID, "nav-cases").click()
        wait.until(EC.presence_of_element_located((By.ID, "case-table")))
        check(top["campaign_id"] in driver.find_element(By.ID, "case-table").text, "the case is listed")
        shot("10-cases")

        # Who did what.
        _, audit, _ = srv.request("GET", "/v1/audit")
        actions = {(a["analyst"], a["action"]) for a in audit["audit"]}
        check(("alice", "review_block") in actions and ("alice", "override_" + action) in actions and ("alice", "login") in actions,
              "the audit names alice for her login, override and review")

        # No errors in the browser's console (CSP violations included).
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        for e in errors:
            print("console:", e["message"])
        check(not errors, "no errors in the browser console")
    finally:
        if driver is not None:
            driver.quit()
        srv.stop()


if __name__ == "__main__":
    dgtest.run(main, WORK, "console browser")
