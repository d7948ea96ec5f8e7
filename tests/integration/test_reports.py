"""Issue 17: the reports CI systems read natively, checked with real parsers.

(a) `sockshim run --junit FILE --expect-fired R...`: python's xml.etree parses the file; every
    attribute and element the Ant/Jenkins JUnit schema requires is there; one test case per
    --expect-fired rule (the one that fired passes, the one that never did fails) and one for the
    command's exit status; faults injected are properties. A command that fails gives a failing
    exit-status case; a name with XML's special characters stays well-formed.
(b) `sockshim stats NAME --format prometheus`: `promtool check metrics` (Debian's prometheus
    package) accepts it; the samples carry the counters with family/type/protocol and rule
    labels. promtool must also refuse a broken copy, so this check can fail.
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# What the Ant JUnit schema (as Jenkins and GitLab read it) requires of each element.
SUITE_ATTRS = ("name", "tests", "failures", "errors", "time", "timestamp", "hostname")
CASE_ATTRS = ("name", "classname", "time")


def parse_junit(path, label):
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        h.fail(f"{label}: {path} does not parse as XML: {e}")
        return None
    h.expect(f"{label}: root element", root.tag, "testsuites")
    suites = root.findall("testsuite")
    if not h.expect(f"{label}: number of <testsuite>", len(suites), 1):
        return None
    suite = suites[0]
    for a in SUITE_ATTRS:
        h.check(a in suite.attrib, f"{label}: <testsuite> lacks the required attribute {a}")
    for child in ("properties", "system-out", "system-err"):
        h.check(suite.find(child) is not None, f"{label}: <testsuite> lacks <{child}>")
    cases = suite.findall("testcase")
    for c in cases:
        for a in CASE_ATTRS:
            h.check(a in c.attrib, f"{label}: <testcase {c.attrib}> lacks the required attribute {a}")
    h.expect(f"{label}: tests attribute", suite.get("tests"), str(len(cases)))
    failed = [c for c in cases if c.find("failure") is not None]
    h.expect(f"{label}: failures attribute", suite.get("failures"), str(len(failed)))
    return suite


def case(suite, name):
    for c in suite.findall("testcase"):
        if c.get("name") == name:
            return c
    h.fail(f"no <testcase name={name!r}>; have {[c.get('name') for c in suite.findall('testcase')]}")
    return None


def properties(suite):
    return {p.get("name"): p.get("value") for p in suite.find("properties").findall("property")}


# XML's and Prometheus's special characters, so escaping is checked by the parsers.
RULE = 'refuse "2nd" <&>'
RULE_LABEL = RULE.replace('"', '\\"')


def junit_checks(tmp, srv):
    rules = {"seed": 1, "rules": [
        {"name": RULE, "on": ["connect"],
         "match": {"family": "inet", "type": "stream", "port": srv.port},
         "when": {"nth": 2}, "do": {"fail": "ECONNREFUSED"}},
        {"name": "never", "on": ["connect"], "match": {"port": 1}, "do": {"fail": "ECONNRESET"}}]}
    junit = os.path.join(tmp, "report.xml")
    r = h.run_shim(h.python_prog("connect_n.py", "127.0.0.1", srv.port, 3), rules=rules,
                   keep=True, options=["--junit", junit, "--expect-fired", RULE,
                                       "--expect-fired", "never"])
    h.expect("run: exit status (--expect-fired never did not fire)", r.rc, 4)
    suite = parse_junit(junit, "junit")
    if suite is None:
        r.show()
        return r
    h.expect("junit: test cases", len(suite.findall("testcase")), 3)
    fired = case(suite, f"rule {RULE} fired")
    if fired is not None:
        h.check(fired.find("failure") is None, "junit: the rule that fired has a <failure>")
    never = case(suite, "rule never fired")
    if never is not None and h.check(never.find("failure") is not None,
                                     "junit: the rule that never fired has no <failure>"):
        h.check("never fired" in never.find("failure").get("message", ""),
                f"junit: failure message {never.find('failure').get('message')!r}")
    exits = [c for c in suite.findall("testcase") if c.get("name", "").endswith("exits 0")]
    if h.expect("junit: exit-status test cases", len(exits), 1):
        h.check(exits[0].find("failure") is None, "junit: the command exited 0 but its case failed")
    props = properties(suite)
    h.expect(f"junit: property sockshim.faults.{RULE}", props.get(f"sockshim.faults.{RULE}"), "1")
    h.expect("junit: property sockshim.faults.never", props.get("sockshim.faults.never"), "0")
    h.expect("junit: property sockshim.faults_injected", props.get("sockshim.faults_injected"), "1")
    h.expect("junit: property sockshim.stats", props.get("sockshim.stats"), r.name)
    h.expect("junit: property sockshim.intercept", props.get("sockshim.intercept"), "preload")
    h.check(f"{RULE} hits=" in (suite.find("system-out").text or ""),
            "junit: <system-out> lacks the stats summary")

    # A failing command: its case fails and says with which status.
    junit2 = os.path.join(tmp, "fail.xml")
    r2 = h.run_shim([h.PYTHON, "-c", "import sys; sys.exit(3)"],
                    options=["--junit", junit2, "--allow-unattached"])
    h.expect("failing command: exit status", r2.rc, 3)
    suite2 = parse_junit(junit2, "junit (failing command)")
    if suite2 is not None:
        cases = suite2.findall("testcase")
        if h.expect("junit (failing command): test cases", len(cases), 1):
            f = cases[0].find("failure")
            if h.check(f is not None, "junit (failing command): no <failure>"):
                h.expect("junit (failing command): message", f.get("message"), "exited with status 3")
    return r


def prometheus_checks(tmp, r):
    promtool = h.need_program("promtool", "prometheus")
    s = h.run_plain([h.SOCKSHIM, "stats", r.name, "--format", "prometheus"])
    if not h.expect("stats --format prometheus: exit status", s.rc, 0):
        s.show()
        return
    text = s.stdout
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)
    if not h.expect("promtool check metrics: exit status", lint.returncode, 0):
        print(lint.stdout + lint.stderr)
        print(text)
    # The parser must be able to say no: the same text with one sample line cut in half.
    broken = text.replace("sockshim_rule_fired_total{", "sockshim_rule_fired_total{run=", 1)
    bad = subprocess.run([promtool, "check", "metrics"], input=broken, capture_output=True,
                         text=True, timeout=30)
    h.check(bad.returncode != 0, "promtool accepted a broken exposition: the check cannot fail")

    want = [
        f'sockshim_socket_opened_total{{run="{r.name}",family="inet",type="stream",protocol="tcp"}} 3',
        f'sockshim_socket_connect_failed_total{{run="{r.name}",family="inet",type="stream",protocol="tcp"}} 1',
        f'sockshim_rule_fired_total{{run="{r.name}",rule="{RULE_LABEL}"}} 1',
        f'sockshim_rule_hits_total{{run="{r.name}",rule="never"}} 0',
        f'sockshim_processes{{run="{r.name}",state="exited"}} 1',
        "# TYPE sockshim_socket_opened_total counter",
    ]
    lines = text.splitlines()
    for w in want:
        h.check(w in lines, f"prometheus: no line {w!r}")


def body(tmp):
    with h.TcpServer() as srv:
        r = junit_checks(tmp, srv)
    if r is not None:
        prometheus_checks(tmp, r)
        h.remove_segment(r.name)


h.main("reports", body)
