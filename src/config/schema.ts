// The one JSON Schema for haip.yaml. Validation, error messages and docs/configuration.md all come from it.

import { TARGET_FORMS } from '../sys/probeTarget';

// `expects` says what a value must be, for error messages; `description` says what the field is for.
export const DURATION_PATTERN = '^(?=[0-9.]*[1-9])[0-9]+(\\.[0-9]+)?(ms|s|m)$';

const duration = {
  expects: 'a duration such as "500ms", "2s", "1m" or a number of seconds',
  description: 'A duration: "500ms", "2s", "1m", or a number of seconds.',
  anyOf: [
    { type: 'number', exclusiveMinimum: 0 },
    // The lookahead refuses "0s" and "0ms" as the number 0 is refused: a zero interval would spin.
    { type: 'string', pattern: DURATION_PATTERN },
  ],
} as const;

const ipv4 = { type: 'string', format: 'ipv4', expects: 'an IPv4 address such as 198.51.100.1', description: 'An IPv4 address.' } as const;
const ipv6 = { type: 'string', format: 'ipv6', expects: 'an IPv6 address such as 2001:db8::1 or fe80::1', description: 'An IPv6 address.' } as const;
const ipOrPrefix = {
  type: 'string',
  format: 'ipprefix',
  expects: 'an IPv4 or IPv6 address or prefix such as 198.51.100.0/24 or 2001:db8:1:100::/56',
  description: 'An IPv4 or IPv6 address or prefix.',
} as const;
const port = {
  expects: 'a port from 1 to 65535 or a range such as "5060-5061"',
  description: 'A port (1-65535) or an inclusive range "LOW-HIGH".',
  anyOf: [
    { type: 'integer', minimum: 1, maximum: 65535 },
    { type: 'string', pattern: '^[0-9]{1,5}-[0-9]{1,5}$' },
  ],
} as const;
const linkNames = {
  type: 'array',
  items: { type: 'string', expects: 'a link name from links', description: 'A link name from `links`.' },
} as const;
const ifname = {
  type: 'string',
  format: 'ifname',
  expects: 'a Linux interface name: 1 to 15 bytes, no "/", ":" or white space',
  description: 'A Linux interface name: 1 to 15 bytes (the kernel counts bytes: "é" is two), no "/", ":" or white space, not "." or "..".',
} as const;
const tableRef = {
  expects: 'a table name from `tables` or a table number',
  description: 'A table name from `tables`, or a table number (1-252, 256 and up).',
  anyOf: [
    { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$' },
    { type: 'integer', minimum: 1, maximum: 4294967295 },
  ],
} as const;

const probe = {
  type: 'object',
  additionalProperties: false,
  description: 'How a link is probed. At the top level: defaults for every link; in a link: overrides.',
  properties: {
    targets: {
      type: 'array',
      items: {
        type: 'string',
        format: 'probetarget',
        expects: TARGET_FORMS,
        description: 'A probe target: an IPv4 or IPv6 address (ICMP echo), tcp://ADDR:PORT, http://ADDR[:PORT]/PATH [host=NAME] or dns://ADDR[:PORT]/NAME.',
      },
      minItems: 1,
      uniqueItems: true,
      description:
        'What each round probes through the link, from its source address and bound to its interface: a bare address is an ICMP echo (IPv4 and IPv6 in one list, each family judged on its own: a link with IPv6 targets is routed and chosen for IPv6 too); tcp://ADDR:PORT a TCP connect (an accepted or a refused connection both count: the far end answered; append " open" to count only a completed handshake); http://ADDR[:PORT]/PATH an HTTP GET that must answer 2xx or 3xx (append " host=NAME" for a Host header other than the address, " status=204" or " status=200-299,301" for the codes that count, " body=TEXT" for text the first 4 KiB must hold: a captive portal\'s redirect or login page then fails); dns://ADDR[:PORT]/NAME a query for the A records of NAME that must come back with at least one record (append " answer=ADDR" for an address one of them must be: a lying resolver then fails). IPv6 addresses go in brackets (tcp://[2001:db8::1]:443). Addresses only, no host names. Kinds mix freely; `haip check` says what counts for each.',
    },
    interval: { ...duration, description: 'Time between probe rounds. Default 1s.' },
    size: {
      type: 'integer',
      minimum: 16,
      maximum: 65000,
      description:
        'ICMP payload bytes of each echo, sent with don\'t-fragment (`ping -s SIZE -M do`), so a path-MTU black hole (PPPoE at 1492, a tunnel, a broken ISP core that drops full-size packets while small pings pass) takes the link down: 1472 probes a 1500-byte path over IPv4 (1452 over IPv6). The packet (SIZE + 28 bytes for IPv4, + 48 for IPv6) must fit the interface MTU; a link whose MTU is smaller is unusable and says so. Socket probes (tcp, http, dns) ignore it. Default: ping\'s 56.',
    },
    timeout: { ...duration, description: 'How long a round waits for each reply. Default 1s.' },
    quorum: { type: 'integer', minimum: 1, description: 'Targets that must answer for a round to be good. Default 1.' },
    down: { type: 'integer', minimum: 1, maximum: 1000, description: 'Consecutive bad rounds that take an UP link DOWN; a link whose targets are all streamed pings (method auto or stream) also goes DOWN once fewer than quorum targets have answered for down x interval, whichever comes first. Default 3.' },
    up: { type: 'integer', minimum: 1, maximum: 1000, description: 'Consecutive good rounds that bring a DOWN link back UP. Default 3.' },
    max_loss: {
      type: 'string',
      pattern: '^(100|[0-9]{1,2}(\\.[0-9]+)?)%$',
      expects: 'a percentage from 0% to 100% such as "20%"',
      description:
        'Quality limit: a link losing more than this share of its probes over quality_window is degraded (it carries traffic only when no link is up within its limits), and is back once its loss is at most half of it. Default: no limit.',
    },
    max_rtt: {
      ...duration,
      description:
        'Quality limit: a link whose median RTT over quality_window is above this is degraded, and is back once it is at most 80% of it. Default: no limit.',
    },
    quality_window: { ...duration, description: 'How far back max_loss and max_rtt look (at least 20 probes are needed to judge). Default 60s.' },
    method: {
      enum: ['auto', 'stream', 'spawn'],
      description: 'stream: every echo is streamed and judged, through haip\'s ICMP helper (one perl process for every link, raw ICMP sockets bound to each link\'s interface and source) or, where it cannot run, one long-lived ping per target; once a round while every echo is answered and up to four echoes per round from the first miss until 10 s pass without one (a link silent for down x interval goes down at once); spawn: one ping process per probe (node-ping). Default auto (stream, spawn where neither the helper nor ping can stream).',
    },
  },
} as const;

export const configSchema = {
  $id: 'https://haip.invalid/haip.schema.json',
  title: 'haip.yaml',
  type: 'object',
  additionalProperties: false,
  required: ['links'],
  properties: {
    log_level: {
      enum: ['error', 'warning', 'notice', 'info', 'debug'],
      description: 'Least important messages logged. Default info; -v and -vv on the command line raise it.',
    },
    probe,
    tables: {
      type: 'object',
      description: 'Routing table names and numbers, written to rt_tables_file so `ip route show table T1` works.',
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,30}$' },
      additionalProperties: { type: 'integer', minimum: 1, maximum: 4294967295 },
    },
    links: {
      type: 'array',
      description: 'The uplinks, in order of preference among equal weights. Empty: haip changes nothing (the shipped config).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'interface'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$', description: 'Unique name used in logs, status and hooks.' },
          interface: ifname,
          weight: { type: 'number', minimum: 0, description: 'Lower is preferred. Default: the position in the list.' },
          table: { ...tableRef, description: 'Table for this link\'s source routing. Omit for no table and no rule (the original haip\'s mode).' },
          gateway: { ...ipv4, description: 'Next hop. Omit it to learn it from the default route a DHCP client (or pppd, networkd, NetworkManager) installs for the interface, in any table; a point-to-point link (ppp0, tun) needs none: `default dev IF`.' },
          source: { ...ipv4, description: 'Source address for probes and the source rule. Default: the interface\'s primary address.' },
          gateway6: {
            ...ipv6,
            description:
              'IPv6 next hop, link-local allowed (fe80::1). Omit to learn it from the kernel: the default route a router advertisement (`proto ra`) or a DHCPv6 client installs for the interface. Needs IPv6 probe targets.',
          },
          prefixes6: {
            type: 'array',
            maxItems: 16,
            items: { type: 'string', format: 'ipv6prefix', expects: 'an IPv6 prefix such as 2001:db8:1:100::/56' },
            description:
              'IPv6 prefixes this uplink\'s ISP delegated (DHCPv6-PD), numbering the LAN: each gets a source rule into the link\'s table, so LAN hosts numbered from it leave by this uplink while it is usable. When the WAN has no global IPv6 address (unnumbered: link-local only, the default route from the RA), the link is probed from the router\'s first address inside one of them, on any interface (usually the LAN). Needs a table and IPv6 probe targets. Omit it to learn them from the DHCPv6 client: dhcpcd with the hook the package ships (/usr/lib/dhcpcd/dhcpcd-hooks/70-haip), or any client whose hook writes the same record (haip.yaml(5)); a learned prefix must be global unicast, /48 to /64, and clear of every other link\'s prefixes and addresses.',
          },
          source6: {
            ...ipv6,
            description: 'IPv6 source address for probes; its prefix gets the source rule. It may sit on another interface (the LAN) when the WAN is unnumbered. Default: the interface\'s first global IPv6 address, else the router\'s first address inside prefixes6 (configured or learned). Needs IPv6 probe targets.',
          },
          mark: {
            type: 'integer',
            minimum: 1,
            maximum: 4294967295,
            expects: 'a mark from 1 to 4294967295 that fits in mark_mask',
            description: 'Connection and packet mark of this link (inside mark_mask), for a link with a table: connections arriving on it carry it so their replies leave by it, and with sticky its outgoing connections too. Default: its position in the list, from 1.',
          },
          share: {
            type: 'integer',
            minimum: 1,
            maximum: 64,
            description: 'This link\'s part of the new connections of a `balance` policy, against the other links\' shares (2 beside 1: two thirds). Default 1.',
          },
          probe,
        },
      },
    },
    rules: {
      type: 'array',
      description: 'Extra policy rules, installed as given (Varabitti-style fwmark rules, iif rules, ...).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['priority', 'table'],
        properties: {
          priority: { type: 'integer', minimum: 1, maximum: 32765, description: 'The rule\'s priority (`ip rule ... priority N`); lower is looked at first.' },
          table: { ...tableRef, description: 'Table the rule looks up.' },
          from: { ...ipOrPrefix, description: 'Match packets from this source address or prefix (IPv4 or IPv6; an IPv6 one makes an `ip -6 rule`).' },
          to: { ...ipOrPrefix, description: 'Match packets to this destination address or prefix, of the same family as `from`.' },
          fwmark: { type: 'integer', minimum: 1, maximum: 4294967295, description: 'Match packets with this firewall mark.' },
          mask: { type: 'integer', minimum: 1, maximum: 4294967295, description: 'Mask for fwmark, so other users of the mark bits coexist.' },
          iif: { ...ifname, description: 'Match packets arriving on this interface (`lo` for the host\'s own traffic).' },
        },
      },
    },
    policies: {
      type: 'array',
      description:
        'Traffic policies: named lists of links that `traffic` rules (and `default_policy`) send classes of traffic to, with nftables marks in haip\'s table `inet haip` and fwmark rules into the links\' tables. Each link in a policy needs a table. See docs/walkthrough-policies.md.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$', expects: 'a name of 1 to 32 letters, digits, ".", "_" or "-"', description: 'The policy\'s name, used by `traffic`, `default_policy`, status and metrics.' },
          balance: {
            ...linkNames,
            description:
              'Spread new connections over every usable link of the list by its `share`: a hash of the source address (or of the connection, see `by`) picks one of 64 buckets, and the buckets are dealt to the links by share. Consistent: when a link fails only its buckets move, and when it returns exactly they come back.',
          },
          prefer: { ...linkNames, description: 'The first usable link of the list carries the policy\'s new connections; the next one takes over when it fails (the health haip already judges: up before degraded, damping).' },
          by: { enum: ['source', 'connection'], description: 'balance only: `source` keeps every connection of a host on one uplink (address-bound sessions survive); `connection` spreads each connection on its own. Default source.' },
          last_resort: {
            enum: ['unreachable', 'default'],
            description: 'When no link of the list is usable: `unreachable` refuses the traffic (ICMP administratively prohibited; nothing leaks through another link), `default` lets it follow the main default route. Default: unreachable when the list leaves out a link, else default.',
          },
          failback: {
            enum: ['keep', 'move'],
            description: 'prefer only: `move` flushes the policy\'s connections from the other links when the preferred one returns (VoIP moves back at once); `keep` leaves them until they end. Default keep.',
          },
        },
      },
    },
    traffic: {
      type: 'array',
      description:
        'Which policy each class of traffic follows, first match wins; traffic that no rule matches follows `default_policy`, or the main default route. Applies to forwarded traffic (not to what arrives on an uplink) and to the router\'s own. Every field given must match.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['policy'],
        properties: {
          from: { ...ipOrPrefix, description: 'Source address or prefix, IPv4 or IPv6.' },
          to: { ...ipOrPrefix, description: 'Destination address or prefix, IPv4 or IPv6 (the same family as from).' },
          proto: { enum: ['tcp', 'udp', 'sctp', 'icmp', 'icmpv6'], description: 'Transport protocol; needed for ports.' },
          dport: { ...port, description: 'Destination port or range (needs proto tcp, udp or sctp).' },
          sport: { ...port, description: 'Source port or range (needs proto tcp, udp or sctp).' },
          iif: { ...ifname, description: 'The interface the traffic arrives on (a LAN, a VLAN); never matches the router\'s own traffic.' },
          dscp: { type: 'integer', minimum: 0, maximum: 63, description: 'The DSCP value (46 is EF, voice).' },
          policy: { type: 'string', expects: 'a policy name from policies', description: 'The policy of the traffic this rule matches.' },
        },
      },
    },
    default_policy: { type: 'string', expects: 'a policy name from policies', description: 'The policy of traffic that no `traffic` rule matches (the main default route as a policy). Default: none, such traffic follows the main default route.' },
    lan6: {
      type: 'object',
      additionalProperties: false,
      required: ['interface'],
      description:
        'The LAN side of an IPv6 failover: haip sends router advertisements on this LAN interface for the /64s of the links\' delegated prefixes (prefixes6, configured or learned) that the router holds an address in there, and while a link\'s IPv6 is down, its /64s go out with preferred lifetime 0, so LAN hosts number their new connections from a live uplink\'s prefix within a second or two of the verdict (and move back when it returns). Only those /64s are ever advertised. haip becomes the one advertiser of them: leave them out of radvd\'s or dnsmasq\'s RAs (docs/walkthrough-dual-stack.md), or hosts flip back at their next RA. Default: no RAs.',
      properties: {
        interface: { ...ifname, description: 'The LAN interface (not an uplink\'s). Its /64s inside a link\'s delegated prefixes are advertised from its link-local address.' },
        deprecate: { type: 'boolean', description: 'Advertise a down link\'s /64s with preferred lifetime 0 while another link\'s /64 on the LAN is alive (with every link down nothing changes). false: advertise them always as preferred. Default true.' },
        router_lifetime: {
          type: 'integer',
          minimum: 0,
          maximum: 9000,
          description:
            'Router lifetime (seconds) in haip\'s RAs. They come from the router\'s link-local address, as radvd\'s do, and hosts take the latest value for that router: set it to what the LAN\'s RA daemon sends (radvd AdvDefaultLifetime, dnsmasq ra-param), 0 when the router must not be the LAN\'s default router; otherwise at least 600. Default 1800 (radvd\'s and dnsmasq\'s default).',
        },
      },
    },
    sticky: {
      type: 'boolean',
      description:
        'Keep outgoing connections (from the host or its LAN) on the uplink they started on: haip\'s nftables table `inet haip` marks them, fwmark rules route them, and a link going down flushes only its own connections from conntrack. Needs a table per link. Without it, connections arriving on an uplink are still marked, so replies leave by the uplink they came in on. Default false.',
    },
    mark_mask: {
      type: 'integer',
      minimum: 1,
      maximum: 4294967295,
      expects: 'a non-zero 32-bit mask such as 0xff (255)',
      description: 'The bits of the firewall mark haip uses (replies by the arrival uplink, sticky); other bits stay free for other users. Default 0xff.',
    },
    state_dir: {
      type: 'string',
      pattern: '^/',
      description: 'Where status.json is written (mode 0644; the directory 0755 if haip creates it). A directory another account owns or can write is refused, unless the sticky bit protects haip\'s files. Default /run/haip.',
    },
    hooks_dir: {
      type: 'string',
      pattern: '^/',
      description: 'Executables run on every switch and link change. Only files owned by root and not writable by group or others, in a directory with the same property, are run. Default /etc/haip/hooks.d.',
    },
    metrics_file: {
      type: 'string',
      pattern: '^/',
      description:
        'Prometheus text file for node_exporter\'s textfile collector, mode 0644. /run/haip/haip.prom keeps the writes off flash (link it from the collector\'s directory, see haip.yaml(5)). Its directory must be root\'s and not writable by other accounts (a prometheus-owned directory is refused). Default: none.',
    },
    metrics_interval: {
      ...duration,
      description: 'The metrics file is rewritten at once when a link\'s state or the active link changes, and otherwise at most this often (RTT, loss, counters). Default 15s.',
    },
    hook_timeout: { ...duration, description: 'A hook still running after this is killed. Default 10s.' },
    damping: {
      type: 'object',
      additionalProperties: false,
      description:
        'Route-flap damping, as BGP does it: each failure of a link (up to down) adds `penalty`, which halves every `half_life`; a link that answers again carries traffic only once its penalty has decayed to `reuse`, and is never held back longer than `max_hold`. A held link is still used when no other link is up.',
      properties: {
        penalty: { type: 'integer', minimum: 0, maximum: 1000000, description: 'Added per failure; 0 turns damping off. Default 1000.' },
        half_life: { ...duration, description: 'Time in which the penalty halves. Default 1m.' },
        reuse: { type: 'integer', minimum: 1, maximum: 1000000, description: 'A link whose penalty is above this is held back. Default 2000 (two failures close together are forgiven, a third is not).' },
        max_hold: { ...duration, description: 'The longest a link is held back, and the window failures are counted in for the log. Default 10m.' },
      },
    },
    protocol: {
      type: 'integer',
      minimum: 5,
      maximum: 255,
      description: 'Route/rule protocol number marking what haip owns: haip replaces and deletes every route and rule with it. Numbers named in rt_protos or rt_protos.d (other than haip) and the well-known ones of DHCP clients, router advertisements and routing daemons (bird 12, dhcp 16, keepalived 18, babel 42, bgp 186, ospf 188, ...) are refused. Default 72.',
    },
    rule_priority: { type: 'integer', minimum: 1, maximum: 32000, description: 'First priority of haip\'s block of source rules. Default 10000.' },
    main_table: { ...tableRef, description: 'Table whose default route follows the best link. Default main.' },
    main_metric: {
      type: 'integer',
      minimum: 0,
      maximum: 4294967295,
      description:
        'Metric of haip\'s default route in main_table. haip owns the default route at this metric: another default at the same or a lower metric is removed within a second; defaults at a higher metric are left alone. Default 0 (IPv6: 1, below the kernel\'s router-advertisement routes at 1024, which stay; with IPv6 targets it must be below 1024).',
    },
    shadow_prefix: {
      type: 'object',
      additionalProperties: false,
      description:
        'A route in main_table that haip did not install, through a link\'s interface, and shorter than this (or covering a probe target) takes traffic meant for the default route (DHCP option 121\'s 0.0.0.0/1 + 128.0.0.0/1, an RFC 4191 route): haip moves it into that link\'s table, where only the link\'s own traffic uses it, and logs it once. Longer routes are left where they are.',
      properties: {
        ipv4: { type: 'integer', minimum: 1, maximum: 32, description: 'Prefix length limit for IPv4. Default 8.' },
        ipv6: { type: 'integer', minimum: 1, maximum: 128, description: 'Prefix length limit for IPv6. Default 16.' },
      },
    },
    rt_tables_file: {
      type: 'string',
      pattern: '^/',
      description: 'Where table names are written: a .conf file in an rt_tables.d directory. An existing file without haip\'s marker line is refused, never rewritten or removed. Default /etc/iproute2/rt_tables.d/haip.conf.',
    },
    rt_protos_file: {
      type: 'string',
      pattern: '^/',
      description: 'Where the protocol name is written: a .conf file in an rt_protos.d directory, whose neighbours (and ../rt_protos) say which protocol numbers are taken. An existing file without haip\'s marker line is refused. Default /etc/iproute2/rt_protos.d/haip.conf.',
    },
  },
} as const;
