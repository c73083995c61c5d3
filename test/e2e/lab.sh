# The e2e lab in network namespaces, sourced by run.sh. Every name starts with haip-e2e-,
# every address is in 198.18.0.0/15 or 203.0.113.0/24, and nothing is created in the host's
# own namespace: each veth is made inside a lab namespace.
#
#   haip-e2e-r (the container) eth1 198.18.1.2/24 -- r 198.18.1.1/24 haip-e2e-isp1 wan 198.18.11.1/30 -- isp1 198.18.11.2/30 haip-e2e-inet
#                              eth2 198.18.2.2/24 -- r 198.18.2.1/24 haip-e2e-isp2 wan 198.18.12.1/30 -- isp2 198.18.12.2/30 (203.0.113.1, .2 on lo)

LAB_NS=(haip-e2e-r haip-e2e-isp1 haip-e2e-isp2 haip-e2e-inet)

lab_down() {
  local ns
  for ns in "${LAB_NS[@]}"; do
    [ -e "/run/netns/$ns" ] && ip netns delete "$ns"
  done
  return 0
}

lab_up() {
  local ns n
  lab_down
  for ns in "${LAB_NS[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # Loose reverse-path filtering whatever the host's defaults: replies come back on the link they left by.
    ip netns exec "$ns" sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done
  for n in 1 2; do
    ip -n haip-e2e-r link add "eth$n" type veth peer name r netns "haip-e2e-isp$n"
    ip -n haip-e2e-r addr add "198.18.$n.2/24" dev "eth$n"
    ip -n haip-e2e-r link set "eth$n" up
    ip -n "haip-e2e-isp$n" addr add "198.18.$n.1/24" dev r
    ip -n "haip-e2e-isp$n" link set r up
    ip -n "haip-e2e-isp$n" link add wan type veth peer name "isp$n" netns haip-e2e-inet
    ip -n "haip-e2e-isp$n" addr add "198.18.1$n.1/30" dev wan
    ip -n "haip-e2e-isp$n" link set wan up
    ip -n "haip-e2e-isp$n" route add 203.0.113.0/24 via "198.18.1$n.2"
    ip netns exec "haip-e2e-isp$n" sysctl -q -w net.ipv4.ip_forward=1
    ip -n haip-e2e-inet addr add "198.18.1$n.2/30" dev "isp$n"
    ip -n haip-e2e-inet link set "isp$n" up
    ip -n haip-e2e-inet route add "198.18.$n.0/24" via "198.18.1$n.1"
  done
  ip -n haip-e2e-inet addr add 203.0.113.1/32 dev lo
  ip -n haip-e2e-inet addr add 203.0.113.2/32 dev lo
}

# Silent loss: ISP n drops everything from and to the router.
lab_fail_isp() {
  ip netns exec "haip-e2e-isp$1" nft -f - <<NFT
table inet haip_e2e_drop {
  chain forward_drop { type filter hook forward priority 0; policy accept; iifname "r" drop; oifname "r" drop; }
  chain input_drop { type filter hook input priority 0; policy accept; iifname "r" drop; }
}
NFT
}

lab_heal_isp() {
  ip netns exec "haip-e2e-isp$1" nft delete table inet haip_e2e_drop
}

# The lab's haip.yaml: both uplinks with tables, sticky, fast probes (the 0.1.0 of the lifecycle test reads it too).
lab_config() {
  cat <<'YAML'
# the e2e lab (test/e2e/run.sh)
log_level: debug
sticky: true
probe: { targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }
tables: { T1: 101, T2: 102 }
links:
  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1 }
  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1 }
YAML
}
