# One byte past the 1 MiB limit: refused before it is parsed, at that byte.
head -c 1048577 /dev/zero | tr '\0' '#' > big.yaml
args=(apply -y -f big.yaml)
