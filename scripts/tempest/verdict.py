"""Compares a tempest run (a subunit v2 stream) with the list of tests allowed to fail.

    verdict.py RESULTS.subunit KNOWN_FAILURES.txt PARTIAL

Each line of the list is a test id (without its [id-…,attribute] suffix), a space, and the reason.
Exit 1 when a test failed or was skipped and is not listed, or, on a full run (PARTIAL=0), when a
listed test passed or did not run at all: the list must name exactly the tests that do not pass.
"""

import re
import sys

import subunit
import testtools

results_path, known_path, partial = sys.argv[1], sys.argv[2], sys.argv[3] == "1"


def plain(test_id: str) -> str:
    return re.sub(r"\[.*\]$", "", test_id)


known: dict[str, str] = {}
with open(known_path, encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        if not reason.strip():
            sys.exit(f"known-failures: {name} has no reason")
        known[name] = reason.strip()


class Collect(testtools.StreamResult):
    def __init__(self) -> None:
        super().__init__()
        self.status_of: dict[str, str] = {}
        self.reason: dict[str, str] = {}

    def status(self, test_id=None, test_status=None, file_name=None, file_bytes=None, **_):
        if test_id is None:
            return
        if test_status in ("success", "fail", "skip", "xfail", "uxsuccess"):
            self.status_of[test_id] = test_status
        if file_name == "reason" and file_bytes:
            self.reason[test_id] = bytes(file_bytes).decode("utf-8", "replace")


collector = Collect()
with open(results_path, "rb") as stream:
    case = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
    case.run(collector)

outcome: dict[str, str] = {}
for test_id, status in collector.status_of.items():
    if test_id.startswith("setUpClass (") or test_id.startswith("tearDownClass ("):
        # A class fixture that failed: every test of that class counts as failed.
        cls = test_id[test_id.index("(") + 1 : -1]
        outcome[f"{cls}.*"] = "fail" if status == "fail" else status
        continue
    outcome[plain(test_id)] = status

passed = sorted(t for t, s in outcome.items() if s == "success")
failed = sorted(t for t, s in outcome.items() if s in ("fail", "uxsuccess"))
skipped = sorted(t for t, s in outcome.items() if s in ("skip", "xfail"))

problems = []
for t in failed + skipped:
    if t not in known:
        kind = "failed" if t in failed else "was skipped"
        why = collector.reason.get(t, "")
        problems.append(f"  {t} {kind}, and is not on the known-failures list {why}".rstrip())
for t, reason in sorted(known.items()):
    if t in passed:
        problems.append(f"  {t} passes now: take it off the known-failures list ({reason})")
    elif not partial and t not in outcome:
        problems.append(f"  {t} is on the known-failures list but did not run")

print(f"tempest: {len(passed)} passed, {len(failed)} not passing, {len(skipped)} skipped "
      f"({len(known)} listed as known gaps)")
for t in failed:
    print(f"  not passing: {t}" + ("  [known: " + known[t] + "]" if t in known else ""))
for t in skipped:
    print(f"  skipped: {t}" + ("  [known: " + known[t] + "]" if t in known else ""))
if problems:
    print("tempest verdict: the run does not match the known-failures list:")
    print("\n".join(problems))
    sys.exit(1)
print("tempest verdict: every test passes except the listed known gaps")
