"""Headless Chromium for the pages officials read: the page as the browser builds it, and the page as it
prints, on the paper sizes offices use, read back with a real PDF reader.

Printing goes through the DevTools protocol over a pipe (``--remote-debugging-pipe``): the same print
engine as ``--print-to-pdf``, which always prints on Letter, with the paper size chosen per call.
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


def print_pdf(tmp_path: Path, page: Path, paper: str) -> bytes:
    """The page printed by Chromium on ``paper`` (``A4`` or ``Letter``), with the page's own margins,
    backgrounds and page numbers, as a PDF."""
    commands_read, commands_write = os.pipe()
    answers_read, answers_write = os.pipe()
    browser = subprocess.Popen(
        [chromium(), *_QUIET, *_OFFLINE, "--remote-debugging-pipe", f"--user-data-dir={tmp_path / 'print-profile'}"],
        pass_fds=(3, 4),
        preexec_fn=_pipes_at_3_and_4(commands_read, answers_write),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(commands_read)
    os.close(answers_write)
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
