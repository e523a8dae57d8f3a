#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The hostile-input table, configuration rows (issue 8): each case writes a hostile file or
drop-in tree, then
  - `timerbeat check` must answer within a bounded time with the expected exit status and
    clear messages (file:line, what is wrong), never crash, never print a URL's secret;
  - `timerbeat run` must refuse the same input at start with status 78 and the same messages,
    before it touches any bus (or, for input that is valid, get past the configuration);
  - the rest of the input is still read: a second problem elsewhere is reported too, or the
    good check next to the bad one is listed.
Big files are generated here, never committed.

    test_config.py TIMERBEAT CASE     run one case (meson runs each as its own test)
    test_config.py --list             the cases
"""
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile

SECRET = "5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5"
GOOD_URL = f"https://hc-ping.com/{SECRET}"
# Under valgrind (TIMERBEAT_WRAPPER) everything takes longer; a hang is still a hang.
SLOW = 5 if os.environ.get("TIMERBEAT_WRAPPER") else 1
TIMEOUT = 20 * SLOW
CASES = {}


def case(fn):
    CASES[fn.__name__.replace("_", "-")] = fn
    return fn


class Failed(Exception):
    pass


class T:
    """One case's scratch space: HOME/XDG dirs (for drop-ins), a place for files."""

    def __init__(self, binary, d):
        self.binary = binary
        self.d = d
        self.conf = f"{d}/config/timerbeat"
        self.confd = f"{self.conf}/conf.d"
        os.makedirs(self.confd)
        for sub in ("home", "run", "state"):
            os.makedirs(f"{d}/{sub}", mode=0o700)
        self.env = dict(os.environ, HOME=f"{d}/home", XDG_CONFIG_HOME=f"{d}/config",
                        XDG_RUNTIME_DIR=f"{d}/run", XDG_STATE_HOME=f"{d}/state",
                        # Nothing listens here: a `run` that got past its configuration fails
                        # to connect (status 1) instead of watching anything real.
                        DBUS_SESSION_BUS_ADDRESS=f"unix:path={d}/run/no-bus",
                        DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={d}/run/no-bus")
        for k in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "LISTEN_FDS", "LISTEN_PID"):
            self.env.pop(k, None)

    def write(self, name, data, where=None):
        path = os.path.join(where or self.d, name)
        with open(path, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        return path

    def tb(self, *args):
        """Runs timerbeat; a hang or a crash fails the case right here."""
        try:
            r = subprocess.run([self.binary] + list(args), env=self.env, capture_output=True,
                               timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise Failed(f"timerbeat {' '.join(args)} still running after {TIMEOUT}s: it hangs on the input")
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        if r.returncode < 0 or r.returncode >= 128:
            raise Failed(f"timerbeat {' '.join(args)} crashed (status {r.returncode}):\n{err[-3000:]}")
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in out + err:
                raise Failed(f"sanitizer report from timerbeat {' '.join(args)}:\n{err[-3000:]}")
        if SECRET in out + err or SECRET[-12:] in out + err:
            raise Failed(f"timerbeat {' '.join(args)} printed a URL's secret:\n{out}{err}")
        r.out, r.err, r.raw_err = out, err, r.stderr
        return r

    def expect(self, args, status, lines=(), stream="err", absent=()):
        r = self.tb(*args)
        text = r.err if stream == "err" else r.out
        problems = []
        if r.returncode != status:
            problems.append(f"exit status {r.returncode}, expected {status}")
        for line in lines:
            if (line.search(text) is None) if isinstance(line, re.Pattern) else (line not in text):
                problems.append(f"missing: {line if isinstance(line, str) else line.pattern!r}")
        for line in absent:
            if line in r.out + r.err:
                problems.append(f"must not appear: {line!r}")
        if problems:
            raise Failed(f"timerbeat {' '.join(args)}:\n  " + "\n  ".join(problems) +
                         f"\n--- stdout ---\n{r.out[-3000:]}--- stderr ---\n{r.err[-3000:]}")
        return r

    def refused(self, path, lines, dropins=False):
        """check and run both refuse the input with 78 and the messages; run before any bus."""
        args = ["--user"] if dropins else ["-c", path]
        self.expect(["check"] + args, 78, list(lines) + ["Configuration is invalid; fix the lines above."])
        self.expect(["run"] + args, 78, lines, absent=["bus"])

    def accepted(self, path, lines, dropins=False):
        """check passes, printing the lines; run gets past the configuration (and then fails to
        connect to the bus that is not there)."""
        args = ["--user"] + ([] if dropins else ["-c", path])
        r = self.expect(["check"] + args, 0, lines, stream="out")
        self.expect(["run"] + args, 1, ["Failed to connect to the user bus"])
        return r


def section(url=GOOD_URL, name="backup.timer"):
    return f"[{name}]\nurl = {url}\n"


def no_control_chars(r, what):
    bad = sorted({c for c in r.raw_err.decode("latin-1") if ord(c) < 0x20 and c not in "\n\t" or ord(c) == 0x7f})
    if bad:
        raise Failed(f"{what}: raw control characters {bad!r} from the file reached the output "
                     f"(terminal escapes in `check`, the journal): {r.raw_err[-500:]!r}")


# --- files ----------------------------------------------------------------------------------
@case
def empty_file(t):
    """An empty file, and one of only blanks and comments: valid, no checks."""
    p = t.write("empty.conf", "")
    t.accepted(p, [f"# {p}", "OK: watching 0 units from 0 sections."])
    p = t.write("blank.conf", "\n\n   \n# comment\n; comment\n\t\n")
    t.accepted(p, [f"# {p}", "OK: watching 0 units from 0 sections."])


@case
def binary_garbage(t):
    """An executable given as the config: it holds NUL bytes."""
    p = t.write("binary.conf", open("/bin/true", "rb").read())
    t.refused(p, [f"{p}:1: file contains NUL bytes, it is not a text file"])


@case
def binary_garbage_no_nul(t):
    """64 KiB of random bytes without NUL: a message per bad line, with its line number."""
    rnd = random.Random(8)
    data = bytes(rnd.randrange(1, 256) for _ in range(64 * 1024))
    p = t.write("noise.conf", data)
    lines = data.count(b"\n") + 1
    r = t.expect(["check", "-c", p], 78, [re.compile(rf"^{re.escape(p)}:\d+: ", re.M)])
    for n in re.findall(rf"^{re.escape(p)}:(\d+): ", r.err, re.M):
        if not 1 <= int(n) <= lines:
            raise Failed(f"line number {n} outside of the file's {lines} lines")
    t.expect(["run", "-c", p], 78, [f"{p}:"], absent=["bus"])


@case
def ten_mb_file(t):
    """10 MB (valid text): refused by size before it is read."""
    line = "# " + "x" * 97 + "\n"
    p = t.write("big.conf", section() + line * (10 * 1024 * 1024 // len(line)))
    t.refused(p, [f"{p}: file is larger than 1048576 bytes"])
    # The same as a drop-in, next to a good one.
    t.write("10-big.conf", open(p, "rb").read(), t.confd)
    t.write("20-good.conf", section(name="good.timer"), t.confd)
    t.refused(None, [f"{t.confd}/10-big.conf: file is larger than 1048576 bytes"], dropins=True)


@case
def long_line(t):
    """A 10,000-character line, and a second over-long line later: both reported, never cut."""
    url = GOOD_URL + "?pad=" + "a" * (10000 - len("url = " + GOOD_URL + "?pad="))
    p = t.write("long.conf", f"[backup.timer]\nurl = {url}\n[other.timer]\nsource = {'b' * 300}\n")
    t.refused(p, [f"{p}:2: line is 10000 characters long, the limit is 197",
                  f"{p}:4: line is 309 characters long, the limit is 197"])


# --- URLs -----------------------------------------------------------------------------------
def bad_url(t, url, reason, line=2):
    p = t.write("url.conf", section(url) + section(name="good.timer"))
    t.refused(p, [re.compile(rf"^{re.escape(p)}:{line}: url= .*{re.escape(reason)}", re.M)])
    return p


@case
def url_file(t):
    bad_url(t, "file:///etc/passwd", "only http:// and https:// URLs are allowed")


@case
def url_gopher(t):
    bad_url(t, f"gopher://hc-ping.com/{SECRET}", "only http:// and https:// URLs are allowed")


@case
def url_ftp(t):
    bad_url(t, f"ftp://hc-ping.com/{SECRET}", "only http:// and https:// URLs are allowed")


@case
def url_no_scheme(t):
    bad_url(t, f"hc-ping.com/{SECRET}", "only http:// and https:// URLs are allowed")


@case
def url_spaces(t):
    bad_url(t, f"https://hc-ping.com/ping/{SECRET[:8]} {SECRET[8:]}", "whitespace or control characters")


@case
def url_space_before_path(t):
    """A space where the '/' before the secret belongs: the message must not show the secret
    as if it were part of the host."""
    bad_url(t, f"https://hc-ping.com {SECRET}", "whitespace or control characters")


@case
def url_password_with_space(t):
    """user:password with a space after it: the password must not be shown."""
    bad_url(t, f"https://user:{SECRET} hc-ping.com/ping", "whitespace or control characters")


@case
def url_backslash(t):
    """A backslash where the '/' belongs (curl refuses it): the message must hide the secret."""
    bad_url(t, f"https://hc-ping.com\\{SECRET}", "libcurl cannot parse the URL")


@case
def url_newline(t):
    """A URL broken over two lines: the first half is a URL without its secret; the second is
    no key = value. With a CR in the middle (only CR LF at the end is a line end): refused."""
    p = t.write("nl.conf", f"[backup.timer]\nurl = https://hc-ping.com/{SECRET[:8]}\n{SECRET[8:]}\n")
    t.refused(p, [f"{p}:3: expected 'key = value', a [section] or a comment"])
    p = t.write("cr.conf", f"[backup.timer]\nurl = https://hc-ping.com/{SECRET[:8]}\r{SECRET[8:]}\r\n")
    t.refused(p, [f"{p}:2: url= https://hc-ping.com/…", "whitespace or control characters"])


@case
def url_nul(t):
    """%00 (an encoded NUL) anywhere in the URL; a raw NUL byte makes it a binary file."""
    bad_url(t, f"https://hc-ping.com/{SECRET}%00", "encoded NUL byte (%00)")
    p = t.write("raw.conf", f"[backup.timer]\nurl = https://hc-ping.com/{SECRET}\0x\n")
    t.refused(p, [f"{p}:1: file contains NUL bytes"])


@case
def url_too_long(t):
    """Longer than the 2048 characters a URL may have: the line limit refuses it first."""
    bad = f"https://hc-ping.com/{SECRET}?" + "x" * 2100
    p = t.write("long-url.conf", section(bad))
    t.refused(p, [f"{p}:2: line is {len('url = ' + bad)} characters long, the limit is 197"])


# --- unit names -----------------------------------------------------------------------------
def bad_section(t, name, extra=()):
    data = f"[{name}]\nurl = {GOOD_URL}\n".encode("utf-8", "surrogateescape")
    p = t.write("unit.conf", data + section(name="good.timer").encode())
    r = t.expect(["check", "-c", p], 78, [f"{p}:2: unknown section ["] + list(extra))
    t.expect(["run", "-c", p], 78, [f"{p}:2: unknown section ["], absent=["bus"])
    return r


@case
def unit_glob(t):
    """Glob metacharacters: a section with * or ? and a unit type is a pattern (defined
    behaviour); without a type, with another type, or with a path in it, it is refused; a [
    inside the header ends it early and is refused."""
    p = t.write("patterns.conf", section(name="*.timer") + section(name="backup-?.service"))
    t.accepted(p, [re.compile(rf"^\[\*\.timer\] .*GET https://hc-ping\.com/…a4b5 \({re.escape(p)}:2\)", re.M),
                   re.compile(rf"^\[backup-\?\.service\] .*GET https://hc-ping\.com/…a4b5 \({re.escape(p)}:4\)", re.M),
                   "OK: watching 0 units from 0 sections."])
    for name in ("*", "*.socket", "../*.timer", "*/x.timer", "backup.timer*"):
        bad_section(t, name, [f"unknown section [{name}]"])
    p = t.write("bracket.conf", f"[back[0-9]up.timer]\nurl = {GOOD_URL}\n")
    t.refused(p, [f"{p}:1: unexpected text after the section header"])


@case
def unit_dotdot(t):
    for name in ("../backup.timer", "backup.timer/../../x.service"):
        bad_section(t, name, [f"unknown section [{name}]"])


@case
def unit_slash(t):
    for name in ("a/b.timer", "/etc/passwd.service", "backup.timer/"):
        bad_section(t, name, [f"unknown section [{name}]"])


@case
def unit_non_utf8(t):
    """Bytes that are not UTF-8 in a section name: refused like any other bad name."""
    bad_section(t, "back\udcffup\udcfe.timer")


@case
def unit_control_chars(t):
    """An ESC sequence in a section name (and in a key): it must not reach the terminal or the
    journal raw."""
    r = bad_section(t, "\x1b[2J\x1b[1;31mbackup.timer")
    no_control_chars(r, "section name")
    p = t.write("key.conf", f"[backup.timer]\nurl = {GOOD_URL}\n\x1b]0;pwned\x07key = 1\n")
    r = t.expect(["check", "-c", p], 78, [f"{p}:3: unknown key"])
    no_control_chars(r, "key name")


# --- duplicates (defined: merged, the later value wins) -----------------------------------------
@case
def duplicate_sections_and_keys(t):
    p = t.write("dup.conf",
                "[timerbeat]\nsource = first\nsource = second\n"
                f"[backup.timer]\nurl = https://a.example/{SECRET[:-4]}AAAA\nmethod = POST\n"
                "[other.timer]\nenabled = no\n"
                f"[backup.timer]\nURL = https://b.example/{SECRET[:-4]}BBBB\nMethod = GET\n"
                "[other.timer]\nenabled = no\n")
    r = t.accepted(p, [f"[backup.timer] GET https://b.example/…BBBB origin=second ({p}:10)",
                       f"[other.timer] disabled ({p}:7)", "OK: watching 1 unit from 1 section."])
    if r.out.count("[backup.timer]") != 1:
        raise Failed(f"a section given twice must be one check:\n{r.out}")
    # Across files: a drop-in overrides the main file; the same name in a lower directory is masked.
    main = t.write("timerbeat.conf", section(f"https://main.example/{SECRET[:-4]}MAIN"), t.conf)
    t.write("50-a.conf", section(f"https://dropin.example/{SECRET[:-4]}DROP"), t.confd)
    rund = f"{t.d}/run/timerbeat/conf.d"
    os.makedirs(rund)
    t.write("50-a.conf", section(f"https://masked.example/{SECRET[:-4]}MASK"), rund)
    r = t.accepted(None, [f"# {main}", f"# {t.confd}/50-a.conf",
                          f"[backup.timer] GET https://dropin.example/…DROP ({t.confd}/50-a.conf:2)"],
                   dropins=True)
    if "MASK" in r.out or rund in r.out:
        raise Failed(f"a masked drop-in was read:\n{r.out}")


# --- drop-in directories --------------------------------------------------------------------
@case
def dropin_symlink_loop(t):
    """Drop-ins that are symlinks in a loop, and a conf.d that is one: reported, with the
    problem in another file reported too (reading went on)."""
    os.symlink("20-b.conf", f"{t.confd}/10-a.conf")
    os.symlink("10-a.conf", f"{t.confd}/20-b.conf")
    t.write("30-other.conf", "[backup.timer]\nbogus = 1\n", t.confd)
    t.write("40-good.conf", section(), t.confd)
    t.refused(None, [f"{t.confd}/10-a.conf: cannot read: Too many levels of symbolic links",
                     f"{t.confd}/20-b.conf: cannot read: Too many levels of symbolic links",
                     f"{t.confd}/30-other.conf:2: unknown key 'bogus'"], dropins=True)
    shutil.rmtree(t.confd)
    os.symlink("conf.d2", t.confd)
    os.symlink("conf.d", f"{t.conf}/conf.d2")
    t.refused(None, [f"{t.confd}: cannot open drop-in directory: Too many levels of symbolic links"],
              dropins=True)


@case
def dropin_unreadable(t):
    """root reads any file, so "unreadable" means: a directory, a dangling symlink, and (where the
    kernel has one) a write-only sysfs attribute, which refuses even root; each reported, and
    the good drop-in next to them still read."""
    os.mkdir(f"{t.confd}/10-dir.conf")
    os.symlink("/nonexistent/x.conf", f"{t.confd}/20-dangling.conf")
    t.write("90-good.conf", section(), t.confd)
    lines = [f"{t.confd}/10-dir.conf: is not a regular file",
             f"{t.confd}/20-dangling.conf: cannot read: No such file or directory"]
    wo = write_only_sysfs_file()
    if wo:
        os.symlink(wo, f"{t.confd}/30-wo.conf")
        lines.append(f"{t.confd}/30-wo.conf: cannot read: Permission denied")
    else:
        print("note: no write-only sysfs attribute here; skipping that part")
    t.refused(None, lines, dropins=True)


def write_only_sysfs_file():
    for root, dirs, files in os.walk("/sys/devices"):
        for f in files:
            p = os.path.join(root, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o200:
                return p
        if root.count("/") > 5:
            dirs[:] = []
    return None


@case
def dropin_fifo(t):
    """A FIFO among the drop-ins (nothing ever writes to it): skipped like an empty file; the
    good drop-in is read; no hang."""
    os.mkfifo(f"{t.confd}/10-fifo.conf")
    t.write("20-good.conf", section(), t.confd)
    t.accepted(None, [f"# {t.confd}/20-good.conf", "[backup.timer] GET https://hc-ping.com/…a4b5"],
               dropins=True)


@case
def main_file_fifo(t):
    """The main file, or the -c file, is a FIFO nothing writes to: refused, not waited on
    forever (which at a reload would stall the daemon's event loop)."""
    fifo = f"{t.d}/fifo.conf"
    os.mkfifo(fifo)
    t.refused(fifo, [f"{fifo}: is not a regular file"])
    os.mkfifo(f"{t.conf}/timerbeat.conf")
    t.write("20-good.conf", section(), t.confd)
    t.refused(None, [f"{t.conf}/timerbeat.conf: is not a regular file"], dropins=True)


@case
def config_not_a_file(t):
    """-c given a directory or a device: refused with a message naming it."""
    t.refused(t.d, [f"{t.d}: is not a regular file"])
    t.refused("/dev/null", ["/dev/null: is not a regular file"])


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(sorted(CASES)))
        return 0
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        print(f"usage: {sys.argv[0]} TIMERBEAT CASE; cases: {' '.join(sorted(CASES))}", file=sys.stderr)
        return 2
    binary, name = sys.argv[1], sys.argv[2]
    d = tempfile.mkdtemp(prefix=f"timerbeat-hostile-{name}-")
    try:
        CASES[name](T(binary, d))
    except Failed as e:
        print(f"FAIL {name}: {e}")
        return 1
    finally:
        if not os.environ.get("TIMERBEAT_TEST_KEEP"):
            shutil.rmtree(d, ignore_errors=True)
    print(f"ok {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
