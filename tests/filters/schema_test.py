#!/usr/bin/python3
"""docs/filters.schema.json agrees with the loader: every shipped rule file (docs/examples/*.json,
tests/**/*rules*.json) is valid under the schema, and the bad files whose mistake is one of shape,
name or range (not of meaning, which only the loader knows) are invalid under it too.
Skips (77) when Debian's python3-jsonschema is not installed."""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    print("skip: python3-jsonschema is not installed")
    sys.exit(77)

# tests/filters/bad/ files the schema must refuse as well (the others need the loader's
# knowledge of call types, CIDR host bits or errno tables).
SCHEMA_CATCHES = [
    "unknown-top-key", "unknown-rule-key", "unknown-match-key", "unknown-when-key",
    "unknown-do-key", "unknown-then-key", "fail-number", "probability-percent",
    "probability-negative", "port-out-of-range", "port-range-syntax", "empty-on",
    "unknown-call-type", "no-action", "empty-do", "two-then-actions", "reset-false",
    "delay-too-long", "count-unknown", "role-unknown", "enabled-not-bool", "nth-zero",
    "corrupt-zero", "reset-on-udp", "reset-on-unix", "reset-without-protocol", "name-too-long",
    "glob-too-long", "inbound-loss-zero", "inbound-loss-over-one", "inbound-loss-not-number",
    "inbound-loss-on-unix", "inbound-loss-without-family", "inbound-loss-on-recv",
    "filter-without-loss", "filter-empty", "rate-malformed", "rate-on-udp", "rate-on-recv",
]


def main():
    root = pathlib.Path(sys.argv[1])
    schema = json.loads((root / "docs" / "filters.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0

    shipped = sorted((root / "docs" / "examples").glob("*.json"))
    shipped += sorted(p for p in (root / "tests").rglob("*.json")
                      if "rules" in p.name and p.parent.name != "bad")
    for path in shipped:
        errors = list(validator.iter_errors(json.loads(path.read_text())))
        for e in errors:
            print(f"FAIL {path.relative_to(root)}: {'/'.join(map(str, e.path))}: {e.message}")
        failures += bool(errors)

    bad_dir = root / "tests" / "filters" / "bad"
    for name in SCHEMA_CATCHES:
        doc = json.loads((bad_dir / f"{name}.json").read_text())
        if validator.is_valid(doc):
            print(f"FAIL bad/{name}.json: the schema accepts it, the loader does not")
            failures += 1

    print(f"{len(shipped)} shipped rule files, {len(SCHEMA_CATCHES)} bad files checked; "
          f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
