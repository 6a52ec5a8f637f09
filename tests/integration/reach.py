#!/usr/bin/env python3
"""Every pair of sandboxes on one network: B's listener answers A exactly when
the network lets its members talk (enable_icc), checked with real TCP.

usage: reach.py SHOW_JSON LINKS_JSON NO_ICC_FILE
  SHOW_JSON   `topo show -o json` (which endpoint of which sandbox is on which bridge)
  LINKS_JSON  `ip -j -d link show` of the host (a bridge's network, from its ifalias)
  NO_ICC_FILE networks with enable_icc false, one a line (from the manifest)
Each sandbox runs `socat TCP-LISTEN:80,fork SYSTEM:'echo <its netns>'`.
Prints each broken expectation; exits 1 if there is one.
"""
import json
import subprocess
import sys

show = json.load(open(sys.argv[1]))
links = json.load(open(sys.argv[2]))
no_icc = set(open(sys.argv[3]).read().split())
network_of = {l["ifname"]: l.get("ifalias", "").rsplit("/", 1)[-1] for l in links}

members = {}  # bridge -> [(netns, ipv4)]
for box, b in show["sandboxes"].items():
    for e in b["endpoints"]:
        for a in e.get("addresses", []):
            if ":" not in a and e.get("bridge"):
                members.setdefault(e["bridge"], []).append((box, a.split("/")[0]))

bad = 0
for bridge, ms in members.items():
    net = network_of.get(bridge, "?")
    for src, _ in ms:
        for dst, addr in ms:
            if src == dst:
                continue
            want = net not in no_icc
            out = subprocess.run(["ip", "netns", "exec", src, "socat", "-T1", "-",
                                  f"TCP:{addr}:80,connect-timeout=0.5"],
                                 input=b"", capture_output=True, timeout=10).stdout.decode().strip()
            got = out == dst
            if got != want:
                bad += 1
                print(f"network {net}: {src} → {dst} ({addr}:80): "
                      f"{'answered' if got else 'no answer (' + repr(out) + ')'}, expected "
                      f"{'an answer' if want else 'none (enable_icc: false)'}")
sys.exit(1 if bad else 0)
