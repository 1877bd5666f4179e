"""Validates YAML documents against a JSON Schema (draft-07) with python3-jsonschema, as an
editor's YAML language server would.

    python3 schema_validate.py SCHEMA.json DOC.yaml...

Prints one line per error, `DOC: path: message`; exit 0 when every document is valid, 1 when
one is not, 2 when python3-jsonschema or python3-yaml is not installed.
"""
import json
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:
    print(f"python3-jsonschema and python3-yaml are needed: {e}", file=sys.stderr)
    sys.exit(2)

def leaves(err):
    """The innermost errors: an optional section is `anyOf: [section, null]`, so name the
    mistake inside the section rather than the anyOf, and drop the `null` branch's."""
    if not err.context:
        return [err]
    inner = [e for c in err.context for e in leaves(c)]
    real = [e for e in inner if not (e.validator == "type" and e.validator_value == "null")]
    return real or [err]


schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
bad = False
for doc in sys.argv[2:]:
    for err in validator.iter_errors(yaml.safe_load(open(doc))):
        bad = True
        # Optional sections are `anyOf: [section, null]`: name the mistake inside, not the
        # anyOf that failed.
        for leaf in leaves(err):
            where = "/".join(str(p) for p in leaf.absolute_path) or "(top)"
            print(f"{doc}: {where}: {leaf.message}")
sys.exit(1 if bad else 0)
