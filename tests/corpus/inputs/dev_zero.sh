# A device that never ends: refused by what it is, not read.
args=(apply -y -f /dev/zero)
