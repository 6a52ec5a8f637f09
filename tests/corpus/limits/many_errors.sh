# Just under 1 MiB of services, each with a bad port: every error is
# reported, in the order of the file (~31,000 of them).
awk 'BEGIN {
    print "services:" > "many.yaml"
    for (i = 0; size < 1040000; i++) {
        line = sprintf("  s%d: {ports: [\"0:80\"]}", i)
        print line > "many.yaml"
        size += length(line) + 1
        printf "many.yaml:%d:%d: services.s%d.ports[0]: port 0 is out of range (1-65535)\n", i + 2, index(line, "\"0:80\""), i > "expected.err"
    }
    printf "topo: error: the manifest has %d error(s); nothing was changed\n", i > "expected.err"
}'
args=(apply -y -f many.yaml)
