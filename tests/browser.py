"""Headless Chromium for the pages officials read: the page as the browser builds it, and the page as it
prints, on the paper sizes offices use, read back with a real PDF reader; and the collector's dashboard
used as a person uses it (``Browser``).

Printing and driving go through the DevTools protocol over a pipe (``--remote-debugging-pipe``): the same
print engine as ``--print-to-pdf``, which always prints on Letter, with the paper size chosen per call; no
driver to install, no browser to download, the system's Chromium.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from conftest import require
from pypdf import PdfReader

PAPER: dict[str, tuple[float, float]] = {"A4": (8.27, 11.69), "Letter": (8.5, 11.0)}
"""Width and height in inches, as the DevTools protocol takes them."""
_QUIET = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run")
_OFFLINE = ("--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require("Chromium", found)
    assert found is not None
    return found


def run_chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with nothing that reaches the network, logging the page's console to stderr."""
    command = [
        chromium(),
        *_QUIET,
        *_OFFLINE,
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *("--enable-logging=stderr", "--v=0", *args, page.as_uri()),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def page_errors(stderr: str) -> list[str]:
    """Lines about the page itself (console, script errors, blocked loads), not Chromium's own noise."""
    return [
        line for line in stderr.splitlines() if re.search(r"CONSOLE|Uncaught|Content.Security.Policy|Refused to", line)
    ]


class _DevTools:
    """The DevTools protocol over Chromium's pipe: JSON messages, each ended by a NUL byte."""

    def __init__(self, to_browser: BinaryIO, from_browser: BinaryIO) -> None:
        self.to_browser, self.from_browser = to_browser, from_browser
        self.buffer = b""
        self.last_id = 0
        self.passed: list[dict[str, Any]] = []
        """Messages read while waiting for another (events a later ``wait`` may want)."""

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.to_browser.write(json.dumps(message).encode() + b"\0")
        return self.last_id

    def wait(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                message: dict[str, Any] = json.loads(raw)
                if "error" in message:
                    raise AssertionError(f"DevTools: {message['error']}")
                if wanted(message):
                    return message
                self.passed.append(message)
            chunk = self.from_browser.read(1 << 16)
            if not chunk:
                raise AssertionError("Chromium closed the DevTools pipe")
            self.buffer += chunk

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        sent = self.send(method, params, session)
        result: dict[str, Any] = self.wait(lambda m: m.get("id") == sent).get("result", {})
        return result


def _pipes_at_3_and_4(read_end: int, write_end: int) -> Callable[[], None]:
    """In the child: Chromium reads commands from fd 3 and writes answers to fd 4."""

    def setup() -> None:
        reading, writing = os.dup(read_end), os.dup(write_end)  # the lowest free fds: never 4 then 3
        os.dup2(reading, 3)
        os.dup2(writing, 4)

    return setup


def _piped_chromium(profile: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """Chromium listening for DevTools commands on a pipe: the process, the fd to write commands to, and
    the fd to read answers from."""
    commands_read, commands_write = os.pipe()
    answers_read, answers_write = os.pipe()
    browser = subprocess.Popen(
        [chromium(), *_QUIET, *_OFFLINE, "--remote-debugging-pipe", f"--user-data-dir={profile}"],
        pass_fds=(3, 4),
        preexec_fn=_pipes_at_3_and_4(commands_read, answers_write),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(commands_read)
    os.close(answers_write)
    return browser, commands_write, answers_read


def print_pdf(tmp_path: Path, page: Path, paper: str) -> bytes:
    """The page printed by Chromium on ``paper`` (``A4`` or ``Letter``), with the page's own margins,
    backgrounds and page numbers, as a PDF."""
    browser, commands_write, answers_read = _piped_chromium(tmp_path / "print-profile")
    watchdog = threading.Timer(120, browser.kill)  # a hung browser closes the pipe, and the read fails
    watchdog.start()
    try:
        with open(commands_write, "wb", buffering=0) as to_browser, open(answers_read, "rb", buffering=0) as answers:
            tools = _DevTools(to_browser, answers)
            target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            tools.call("Page.enable", session=session)
            tools.send("Page.navigate", {"url": page.as_uri()}, session)
            tools.wait(lambda m: m.get("method") == "Page.loadEventFired")
            width, height = PAPER[paper]
            printed = tools.call(
                "Page.printToPDF",
                {"paperWidth": width, "paperHeight": height, "printBackground": True, "preferCSSPageSize": False},
                session,
            )
            tools.send("Browser.close")
        browser.wait(timeout=60)
    finally:
        watchdog.cancel()
        browser.kill()
    return base64.b64decode(printed["data"])


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each printed page, read with a real PDF reader (pypdf), white space folded."""
    path = tmp_path / "printed.pdf"
    path.write_bytes(pdf)
    return [re.sub(r"\s+", " ", page.extract_text()) for page in PdfReader(path).pages]


class Browser:
    """One tab of headless Chromium used as a person uses a site: pages opened, forms filled and sent, links
    followed, files downloaded; what the page logged (a Content-Security-Policy refusal, say) is kept."""

    def __init__(self, tmp_path: Path) -> None:
        self.downloads = tmp_path / "downloads"
        self.downloads.mkdir()
        self.log: list[str] = []
        self.process, commands, answers = _piped_chromium(tmp_path / "browser-profile")
        self.watchdog = threading.Timer(300, self.process.kill)
        self.watchdog.start()
        # both closed in __exit__, with the browser
        self.tools = _DevTools(open(commands, "wb", buffering=0), open(answers, "rb", buffering=0))  # noqa: SIM115
        target = self.tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.tools.call(domain, session=self.session)
        self.tools.call(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(self.downloads), "eventsEnabled": True},
        )

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.tools.send("Browser.close")
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            self.watchdog.cancel()
            self.process.kill()
            self.process.wait()
            self.tools.to_browser.close()
            self.tools.from_browser.close()

    def _forget(self) -> None:
        """Drop the events read so far, keeping what the page logged."""
        self.log += [
            str(m["params"]["entry"].get("text", "")) for m in self.tools.passed if m.get("method") == "Log.entryAdded"
        ]
        self.tools.passed.clear()

    def _until(self, method: str) -> dict[str, Any]:
        for n, message in enumerate(self.tools.passed):
            if message.get("method") == method:
                return self.tools.passed.pop(n)
        return self.tools.wait(lambda m: m.get("method") == method)

    def run(self, script: str) -> Any:
        """What ``script`` (an expression) gives, on the page as it is now."""
        done = self.tools.call("Runtime.evaluate", {"expression": script, "returnByValue": True}, self.session)
        if "exceptionDetails" in done:
            raise AssertionError(f"{script}: {done['exceptionDetails']}")
        return done["result"].get("value")

    def open(self, url: str) -> None:
        self._forget()
        self.tools.call("Page.navigate", {"url": url}, self.session)
        self._until("Page.loadEventFired")

    def act(self, script: str) -> None:
        """Run ``script`` (a click, a form sent) and wait for the page it leads to."""
        self._forget()
        self.run(script)
        self._until("Page.loadEventFired")

    def download(self, script: str) -> Path:
        """Run ``script`` (a click on a download link) and wait for the file it saves."""
        self._forget()
        self.run(script)
        name = self._until("Browser.downloadWillBegin")["params"]["suggestedFilename"]
        while self._until("Browser.downloadProgress")["params"]["state"] != "completed":
            pass
        return self.downloads / name

    def cookies(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.tools.call("Storage.getCookies")["cookies"]
        return found

    def logged(self) -> list[str]:
        """What the pages logged so far (their console, Content-Security-Policy refusals)."""
        self._forget()
        return self.log
