"""Helpers shared by the end-to-end scripts in this folder: a free loopback port, waiting for a
node to answer, and counting checks. Standard library only."""
import socket
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listened on at the time of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_base(count):
    """A base port P such that P .. P+count-1 are all free on 127.0.0.1, taken below Linux's
    ephemeral range (32768..60999) so that no outgoing connection takes one of them before the
    node that owns it starts."""
    import os
    import random
    rng = random.Random(os.getpid() ^ int(time.time()))
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count)
        ok = True
        for p in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


def sanitized(binary):
    """Whether `binary` was built with ASan or TSan: their allocators hold freed memory in a
    quarantine and shadow it, so RSS says little about what the node keeps, and they run several
    times slower."""
    with open(binary, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def wait_until_ok(probe, seconds, what):
    """Calls probe() (an HTTP status, or an OSError while nothing listens) every 0.1 s until it
    returns 200; raises RuntimeError naming `what` after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if probe() == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(what)


class Checks:
    """Counts passed and failed checks and prints a line for each failure (and, with
    verbose=True, for each pass). A script exits non-zero when `failed` is not 0."""

    def __init__(self, verbose=False):
        self.passed = self.failed = 0
        self.verbose = verbose

    def check(self, what, cond, detail=""):
        if cond:
            self.passed += 1
            if self.verbose:
                print(f"ok   {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what} {detail}", flush=True)
        return bool(cond)
