# Sourced by test_compose_corpus.sh in the test host, after `topo apply`.
serve blog-wordpress 80 wordpress
serve blog-db 3306 db
expect_eq "blog: the site answers the world on .env's port" "wordpress" "$(world_tcp 198.51.100.1:8000)"
expect_eq "blog: the link alias reaches the database from the site" "db" \
    "$(ip netns exec blog-wordpress socat -T2 - TCP:mysql:3306,connect-timeout=2 </dev/null 2>/dev/null)"
expect_eq "blog: the alias is the site's alone" "" "$(ip netns exec blog-db getent hosts mysql || true)"
db=$(ip -n blog-db -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
refuse "blog: the database, on an internal network, is not reachable from the world" ping_ok world "$db"
