#!/usr/bin/python3
"""Check schema/manifest.schema.json against the examples and known-bad manifests.

Every examples/*.yaml must validate against the schema, and each deliberately
invalid document embedded below must be rejected by it. When the topo binary
is there (build/topo, or $TOPO), each document is also run through
`topo validate`, so that the schema and the parser are seen to agree.

Needs Debian's python3-jsonschema and python3-yaml, so run it with the system
python (a pyenv python3 earlier on PATH does not have them):

    /usr/bin/python3 tests/schema/check_examples.py

Prints one line per document and a final "N passed, M failed"; exits 1 on any
failure.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
    import yaml
except ImportError as e:
    sys.exit(f"{e}: apt-get install -y python3-jsonschema python3-yaml, and run with /usr/bin/python3")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "schema", "manifest.schema.json")
TOPO = os.environ.get("TOPO", os.path.join(ROOT, "build", "topo"))

# Documents the schema (and the parser) must reject: name → manifest text.
INVALID = {
    "unknown top-level key": """
name: bad
servces:
  web: {}
""",
    "unknown key in a service's network entry": """
name: bad
networks:
  front: {}
services:
  web:
    networks:
      front:
        ipv4_adress: 10.0.0.5
""",
    "bad driver": """
name: bad
networks:
  front:
    driver: host
services:
  web:
    networks: [front]
""",
    "long-syntax port without target": """
name: bad
services:
  web:
    ports:
      - published: "8080"
        protocol: tcp
""",
    "unknown service key": """
name: bad
services:
  web:
    netwroks: [default]
""",
    "unknown network key": """
name: bad
networks:
  front:
    subnet: 10.0.0.0/24
services:
  web: {}
""",
    "macvlan without parent": """
name: bad
networks:
  lan:
    driver: macvlan
services:
  web:
    networks: [lan]
""",
    "unknown driver option": """
name: bad
networks:
  front:
    driver_opts: {parent: eth0}
services:
  web:
    networks: [front]
""",
    "invalid project name": """
name: My_Project
services:
  web: {}
""",
    "network_mode with networks": """
name: bad
services:
  web:
    network_mode: none
    networks: [default]
""",
    "ports with network_mode service:x": """
name: bad
services:
  db: {}
  web:
    network_mode: "service:db"
    ports: ["8080:80"]
""",
    "unsupported network_mode": """
name: bad
services:
  web:
    network_mode: bridge
""",
    "host without address": """
name: bad
hosts:
  node1: {}
services:
  web: {}
""",
    "host address of a short port without published": """
name: bad
services:
  web:
    ports: ["10.0.0.1:80"]
""",
    "unknown protocol": """
name: bad
services:
  web:
    ports: ["53:53/icmp"]
""",
    "ipam config entry without subnet": """
name: bad
networks:
  front:
    ipam:
      config:
        - gateway: 10.0.0.1
services:
  web:
    networks: [front]
""",
    "external_links": """
name: bad
services:
  web:
    external_links: [redis_1]
""",
}

# Edge cases the parser accepts, so the schema must too.
VALID = {
    "empty values and extension keys": """
name: edge
x-common: {a: 1}
networks:
  front:
    x-note: kept
  back:
services:
  web:
    x-role: frontend
    networks:
      front:
      back: {x-note: 1}
  worker:
""",
    "quoted booleans and numbers": """
name: edge
networks:
  front:
    internal: "yes"
    driver_opts:
      mtu: "1400"
      com.docker.network.bridge.enable_icc: "false"
    ipam:
      config:
        - subnet: 10.77.0.0/24
services:
  web:
    networks:
      front:
        priority: "5"
""",
    "external network, legacy form": """
name: edge
networks:
  outside:
    external:
      name: docker0
services:
  web:
    networks: [outside]
""",
    "Compose's networking keys of a service": """
name: ok
networks:
  front: {}
  back: {}
services:
  db:
    networks: [back]
    expose: ["5432", 5433, "6000-6010/udp"]
  web:
    mac_address: 02:42:0a:00:00:09
    links: [db, "db:database"]
    networks:
      front: {gw_priority: 10}
      back:
        link_local_ips: [169.254.10.2]
""",
}


def topo_verdict(text):
    """True if `topo validate` accepts the document, None if topo is not there."""
    if not os.access(TOPO, os.X_OK):
        return None
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "manifest.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([TOPO, "validate", "-f", path], capture_output=True, text=True)
        return r.returncode == 0


def schema_errors(validator, doc):
    return sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))


def describe(err):
    path = ".".join(str(p) for p in err.absolute_path) or "(document)"
    return f"{path}: {err.message}"


def main():
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    have_topo = os.access(TOPO, os.X_OK)
    passed = failed = 0

    def report(ok, label, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
        print(f"{'ok  ' if ok else 'FAIL'} {label}{': ' + detail if detail else ''}")

    examples = sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml")))
    if not examples:
        report(False, "examples/*.yaml", "no examples found")
    for path in examples:
        label = os.path.relpath(path, ROOT)
        with open(path) as f:
            text = f.read()
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            report(False, label, f"YAML: {e}")
            continue
        errs = schema_errors(validator, doc)
        if errs:
            report(False, label, "; ".join(describe(e) for e in errs[:5]))
            continue
        if have_topo and not topo_verdict(text):
            report(False, label, "schema accepts it but `topo validate` rejects it")
            continue
        report(True, label, "valid")

    for name, text in VALID.items():
        label = f"valid: {name}"
        errs = schema_errors(validator, yaml.safe_load(text))
        if errs:
            report(False, label, "; ".join(describe(e) for e in errs[:5]))
        elif have_topo and not topo_verdict(text):
            report(False, label, "schema accepts it but `topo validate` rejects it")
        else:
            report(True, label, "accepted")

    for name, text in INVALID.items():
        label = f"invalid: {name}"
        errs = schema_errors(validator, yaml.safe_load(text))
        if not errs:
            report(False, label, "the schema accepts it")
        elif have_topo and topo_verdict(text):
            report(False, label, "the schema rejects it but `topo validate` accepts it")
        else:
            report(True, label, "rejected (" + describe(errs[0]) + ")")

    if not have_topo:
        print(f"note: {TOPO} not found; documents were checked against the schema only")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
