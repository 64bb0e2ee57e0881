#!/usr/bin/env python3
"""validate_contracts.py — the contract checks of `make test`.

  validate_contracts.py schemas                 every schema under schemas/ is a valid 2020-12 schema
  validate_contracts.py events FILE             every line of FILE (a JSON event envelope) validates:
                                                envelope.schema.json and events/<type>.schema.json
  validate_contracts.py problems FILE           every line of FILE is a valid problem document
  validate_contracts.py responses FILE          every line {service, method, path, status, body} validates
                                                against schemas/openapi/<service>.openapi.json

Prints one line per failure and "N passed, M failed"; exits 1 on any failure."""
import json
import pathlib
import re
import sys

from jsonschema import Draft202012Validator, FormatChecker

ROOT = pathlib.Path(__file__).resolve().parent.parent / "schemas"


def load(path):
    return json.loads(path.read_text())


def main():
    passed = failed = 0
    mode = sys.argv[1]
    if mode == "schemas":
        for path in sorted(ROOT.rglob("*.schema.json")):
            try:
                Draft202012Validator.check_schema(load(path))
                passed += 1
            except Exception as e:  # a schema error names the file
                print(f"FAIL {path.relative_to(ROOT)}: {e}")
                failed += 1
        for path in sorted((ROOT / "openapi").glob("*.openapi.json")):
            doc = load(path)
            problems = []
            if doc.get("openapi") != "3.1.0":
                problems.append("openapi must be 3.1.0")
            for name, schema in doc.get("components", {}).get("schemas", {}).items():
                try:
                    Draft202012Validator.check_schema(schema)
                except Exception as e:
                    problems.append(f"{name}: {e}")
            for route, ops in doc.get("paths", {}).items():
                for method, op in ops.items():
                    for code, resp in op.get("responses", {}).items():
                        for content in resp.get("content", {}).values():
                            target = content.get("schema", {}).get("$ref", "")
                            if target and target.split("/")[-1] not in doc["components"]["schemas"]:
                                problems.append(f"{method} {route} {code}: dangling {target}")
            if problems:
                failed += 1
                print(f"FAIL {path.name}: {'; '.join(problems)[:400]}")
            else:
                passed += 1
    elif mode == "responses":
        docs = {p.name.split(".")[0]: load(p) for p in (ROOT / "openapi").glob("*.openapi.json")}
        for line in [l for l in pathlib.Path(sys.argv[2]).read_text().splitlines() if l.strip()]:
            r = json.loads(line)
            doc = docs[r["service"]]
            op = None
            for template, ops in doc["paths"].items():  # concrete path -> its template
                pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
                if re.match(pattern, r["path"]) and r["method"].lower() in ops:
                    op = ops[r["method"].lower()]
                    break
            if op is None:
                failed += 1
                print(f"FAIL {r['method']} {r['path']}: not in the {r['service']} OpenAPI document")
                continue
            resp = op["responses"].get(str(r["status"])) or op["responses"].get("default")
            content = next(iter(resp.get("content", {}).values()))
            schema = {"$ref": content["schema"]["$ref"], "components": doc["components"]}
            errors = [f"{e.json_path}: {e.message}" for e in Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(r["body"])]
            if r["status"] >= 400 and str(r["status"]) not in op["responses"] and r["body"].get("code") not in " ".join(op.get("x-problem-codes", [])):
                errors.append(f"problem code {r['body'].get('code')} is not documented for this operation")
            if errors:
                failed += 1
                print(f"FAIL {r['method']} {r['path']} {r['status']}: {'; '.join(errors)[:400]}")
            else:
                passed += 1
    else:
        lines = [l for l in pathlib.Path(sys.argv[2]).read_text().splitlines() if l.strip()]
        envelope = Draft202012Validator(load(ROOT / "events" / "envelope.schema.json"), format_checker=FormatChecker())
        problem = Draft202012Validator(load(ROOT / "problem.schema.json"))
        payloads = {}
        for line in lines:
            doc = json.loads(line)
            errors = []
            if mode == "events":
                errors += [e.message for e in envelope.iter_errors(doc)]
                schema_path = ROOT / "events" / f"{doc.get('type')}.schema.json"
                if not schema_path.exists():
                    errors.append(f"no schema for event type {doc.get('type')}")
                else:
                    v = payloads.setdefault(doc["type"], Draft202012Validator(load(schema_path), format_checker=FormatChecker()))
                    errors += [f"payload: {e.json_path}: {e.message}" for e in v.iter_errors(doc.get("payload"))]
            else:
                errors += [e.message for e in problem.iter_errors(doc)]
            if errors:
                failed += 1
                print(f"FAIL {doc.get('type', doc.get('code'))}: {'; '.join(errors)[:400]}")
            else:
                passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


sys.exit(main())
