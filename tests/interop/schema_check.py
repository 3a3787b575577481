"""Load every tool schema of schemas/tools.json in a draft-07 and a 2020-12
validator, and validate structured results against create_task's output schema
under both.

Usage: schema_check.py TOOLS_JSON [RESULT.json ...]
Prints one JSON line: {"schemas": N, "results": M}; exits non-zero on a problem."""

import json
import pathlib
import sys

from jsonschema import Draft7Validator, Draft202012Validator

VALIDATORS = (Draft7Validator, Draft202012Validator)


def main() -> int:
    tools = json.loads(pathlib.Path(sys.argv[1]).read_text())["tools"]
    schemas = {}
    for tool in tools:
        schemas[f"{tool['name']}.input"] = tool["inputSchema"]
        schemas[f"{tool['name']}.output"] = tool["outputSchema"]
    for name, schema in schemas.items():
        for validator in VALIDATORS:
            validator.check_schema(schema)
    results = [json.loads(pathlib.Path(p).read_text()) for p in sys.argv[2:]]
    for result in results:
        schema = schemas["create_task.output"]
        for validator in VALIDATORS:
            errors = list(validator(schema).iter_errors(result))
            if errors:
                print(f"{validator.__name__}: {errors[0].message}", file=sys.stderr)
                return 1
    print(json.dumps({"schemas": len(schemas), "results": len(results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
