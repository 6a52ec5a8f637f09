serve shop-api 8080 api
serve shop-api 8443 api-tls
serve shop-metrics 9090 metrics
expect_eq "shop: the api (built by extends) answers on .env's port" "api" "$(world_tcp 198.51.100.1:8088)"
expect_eq "shop: and on the override file's" "api-tls" "$(world_tcp 198.51.100.1:8443)"
expect_eq "shop: the included service answers on 127.0.0.1 at its own .env's port" "metrics" \
    "$(socat -T2 - TCP:127.0.0.1:9091,connect-timeout=2 </dev/null 2>/dev/null)"
expect_eq "shop: the worker reaches it by name over the included network" "metrics" \
    "$(ip netns exec shop-worker socat -T2 - TCP:metrics:9090,connect-timeout=2 </dev/null 2>/dev/null)"
expect_contains "shop: extends took the network from common.yaml, with the included subnet" "10.81.0." \
    "$(ip -n shop-worker -4 -o addr show dev eth0)"
expect_contains "shop: and the dns_search" "search shop.internal" "$(cat /etc/netns/shop-worker/resolv.conf)"
expect_eq "shop: the debug service's profile is not active: no sandbox" "" "$(ip netns list | grep shop-debug || true)"
