#!/usr/bin/env python3
"""`memfd-warden report` end to end, on audit logs of real runs, with the page opened in Chromium.

Two runs are recorded: one with a byte limit (so bytes are tracked) where two executables create
memfds, one name is refused by the policy with the sentinel EDOM, and one name is hostile (an
HTML element, a script end tag and a terminal escape); one without a byte limit. Then:
- text: the decisions per executable and name, the refusal with its reason and errno, the peaks,
  and no raw control byte;
- markdown: tables with a header row, the hostile name escaped;
- html, opened in headless Chromium: the page's script drew one chart per run with a point per
  recorded decision (refusals ringed), the bytes chart only where bytes were tracked, the hostile
  name is text and no element; a screenshot shows the first executable's colour and the rings;
- bad input: a missing file, and a file with no record, fail with exit 2 and say which; a line
  that is not a record among records (one cut short) is skipped and named on stderr.

Usage: check_report.py MEMFD_WARDEN PROBE SHM_CACHE
Chromium is required; without it the test fails under CI=true and is skipped (77) otherwise.
"""
import html.parser
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAILED: " + what, file=sys.stderr)


HOSTILE = b'<img src=x onerror="document.title=1"></script>\x1b[31mred'


def record_runs(warden, probe, shm_cache, tmp):
    audit = tmp / "audit.jsonl"
    policy = tmp / "policy.toml"
    policy.write_text('version = 1\ndefault = "allow"\n[quota]\nmax_bytes = "64M"\n'
                      '[[rule]]\nid = "no-evil"\nname = "evil*"\naction = "deny"\n'
                      'errno = "EDOM"\n')
    ops = ("create a ; ftruncate a 1M ; create b ; ftruncate b 2M ; close a ; create evil-1 ; "
           "create cache-1 ; create cache-2 ; create cache-3").replace(";", "';'")
    script = f"{probe} script {ops}; {probe} create-hex {HOSTILE.hex()} 1; {shm_cache}"
    first = subprocess.run([warden, "run", "--policy", str(policy), "--audit", str(audit), "--",
                            "/bin/sh", "-c", script], capture_output=True, text=True)
    check(first.returncode == 0, f"the recorded run exits 0 (got {first.returncode}: "
                                 f"{first.stderr.strip()})")
    second = subprocess.run([warden, "run", "--audit", str(audit), "--", probe, "create",
                             "plain", "1"], capture_output=True, text=True)
    check(second.returncode == 0, "the second recorded run exits 0")
    return audit


def decisions_by_run(audit):
    runs = {}
    for line in audit.read_text().splitlines():
        record = json.loads(line)
        runs.setdefault(record["run"], [])
        if record["event"] == "decision":
            runs[record["run"]].append(record)
    return list(runs.values())


class Dom(html.parser.HTMLParser):
    """The elements of the DOM Chromium dumped, with their attributes, and the text of cells."""

    def __init__(self):
        super().__init__()
        self.elements = []
        self.cells = []
        self.title = ""
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag in ("td", "title"):
            self._in = tag
            if tag == "td":
                self.cells.append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "td":
            self.cells[-1] += data
        elif self._in == "title":
            self.title += data


def png_pixels(path):
    """(width, height, rows of RGB(A) tuples) of an 8-bit RGB or RGBA PNG, decoded here."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), f"PNG depth {depth} colour type {color}"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def count_colour(png, rgb):
    width, height, channels, rows = png
    target = bytes(rgb)
    return sum(1 for row in rows for x in range(width)
               if row[x * channels:x * channels + 3] == target)


def check_text_and_markdown(warden, audit):
    text = subprocess.run([warden, "report", str(audit)], capture_output=True)
    check(text.returncode == 0, "report exits 0")
    out = text.stdout.decode()
    check("\x1b" not in out, "no raw escape byte reaches the terminal")
    check("\\x1b[31mred" in out, "the hostile name's escape byte is shown as \\x1b")
    check(out.startswith("memfd-warden report: 2 runs, "), "the headline counts two runs")
    rows = [line.split() for line in out.splitlines()]
    check(any("evil-1" in row and "deny" in row and "EDOM" in row and "(rule" in row
              for row in rows), "the refusal row names the rule and EDOM")
    check(any("cache-* (3 names)" in line for line in out.splitlines()),
          "names that differ in numbers are one row")
    check(any("3145728" in line and "summary present" in line for line in out.splitlines()),
          "the run's peak bytes (1M + 2M) are shown")
    md = subprocess.run([warden, "report", "--format", "markdown", str(audit)],
                        capture_output=True, text=True).stdout
    check("### Decisions per executable and name" in md, "markdown has the decisions table")
    check("| --- |" in md, "markdown tables have their delimiter row")
    check("\\<img src=x onerror=\"document.title=1\"\\>\\</script\\>" in md,
          "markdown escapes the hostile name's markup")


def check_bad_input(warden, tmp):
    missing = subprocess.run([warden, "report", str(tmp / "absent.jsonl")], capture_output=True,
                             text=True)
    check(missing.returncode == 2 and "absent.jsonl" in missing.stderr,
          "a missing file: exit 2, named")
    junk = tmp / "junk.jsonl"
    junk.write_text('{"event":"start","run":"x"}\nnot json\n')
    cut = subprocess.run([warden, "report", str(junk)], capture_output=True, text=True)
    check(cut.returncode == 0 and "junk.jsonl:2" in cut.stderr and "skipped" in cut.stderr,
          f"a line that is not a record (cut short): skipped, file:line said ({cut.stderr.strip()})")
    only_junk = tmp / "only-junk.jsonl"
    only_junk.write_text("not json\n")
    bad = subprocess.run([warden, "report", str(only_junk)], capture_output=True, text=True)
    check(bad.returncode == 2 and "only-junk.jsonl:1: not an audit record" in bad.stderr,
          f"no record at all: exit 2, file:line ({bad.stderr.strip()})")


def check_page(warden, audit, tmp, chromium):
    page = tmp / "report.html"
    with page.open("wb") as out:
        check(subprocess.run([warden, "report", "--format", "html", str(audit)],
                             stdout=out).returncode == 0, "report --format html exits 0")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp / 'profile'}"]
    dumped = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                            text=True, timeout=120)
    check(dumped.returncode == 0, "chromium --dump-dom exits 0")
    dom = Dom()
    dom.feed(dumped.stdout)
    runs = decisions_by_run(audit)
    body = [attrs for tag, attrs in dom.elements if tag == "body"]
    check(body and body[0].get("data-charts-drawn") == "2",
          f"the page's script drew both runs' charts ({body[0] if body else None})")
    svgs = [attrs for tag, attrs in dom.elements if tag == "svg"]
    series = [(svg.get("data-series"), svg.get("data-points")) for svg in svgs]
    # The second run's default policy has no live or byte limit: nothing counted, nothing drawn.
    expected = [("live", str(len(runs[0]))), ("bytes", str(len(runs[0])))]
    check(series == expected, f"charts: live and bytes for the first run, none for the second, "
                              f"a point per decision ({series} != {expected})")
    check(dumped.stdout.count(">Live memfds were not counted in this run") == 1,
          "the second run's charts say its live memfds were not counted")
    circles = [attrs for tag, attrs in dom.elements if tag == "circle"]
    check(len(circles) == 2 * len(runs[0]), "a circle per point drawn")
    ringed = [c for c in circles if c.get("stroke") == "#000"]
    refused = sum(1 for r in runs[0] if r["decision"] != "allow")
    check(refused == 1 and len(ringed) == 2, "the refusal is ringed in both of its run's charts")
    lines = [attrs for tag, attrs in dom.elements if tag == "polyline"]
    steps = [len(l.get("points", "").split()) for l in lines]
    want = [2 * len(runs[0]) - 1, 2 * len(runs[0]) - 1]
    check(steps == want, f"every chart has its step line through every point ({steps} != {want})")
    check(not any(tag == "img" for tag, _ in dom.elements), "the hostile name made no element")
    check(dom.title == "memfd-warden report", "the hostile name's script never ran")
    check(any('<img src=x onerror="document.title=1"></script>\\x1b[31mred' in cell
              for cell in dom.cells), "the hostile name is shown as text")

    shot = tmp / "report.png"
    subprocess.run([chromium, *flags, "--window-size=1400,3000", f"--screenshot={shot}",
                    page.as_uri()], capture_output=True, timeout=120)
    check(shot.exists(), "chromium took a screenshot")
    if shot.exists():
        png = png_pixels(shot)
        blue = count_colour(png, (0x1F, 0x77, 0xB4))
        check(blue >= 20 * len(runs[0]), f"the first executable's points are painted ({blue} px)")
        green = count_colour(png, (0x2C, 0xA0, 0x2C))
        check(green >= 20, f"the second executable's points are painted ({green} px)")


def main():
    warden, probe, shm_cache = sys.argv[1:4]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        audit = record_runs(warden, probe, shm_cache, tmp)
        check_text_and_markdown(warden, audit)
        check_bad_input(warden, tmp)
        if chromium:
            check_page(warden, audit, tmp, chromium)
        elif os.environ.get("CI"):
            check(False, "Chromium is installed (.ci/install-deps installs it)")
        else:
            print("SKIPPED the page: no chromium (apt-get install chromium)", file=sys.stderr)
            return 77 if not failures else 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
