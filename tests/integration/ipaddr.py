"""Prints the IPv4 addresses (address/prefix) from `ip -j addr` on stdin.
With an argument, only those starting with it. Keeps quoting out of the shell tests."""
import json
import sys

prefix = sys.argv[1] if len(sys.argv) > 1 else ""
out = [f"{a['local']}/{a['prefixlen']}" for i in json.load(sys.stdin) for a in i["addr_info"]
       if a["family"] == "inet" and a["local"].startswith(prefix) and i["ifname"] != "lo"]
print(" ".join(out))
