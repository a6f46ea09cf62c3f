// Limits of nft 1.0.6 and of the kernel that the emitters and the schema enforce. Exceeding most of
// them does not produce an error in 1.0.6 but a crash, a silently different ruleset, or a listing
// that cannot be loaded again (each found by feeding nft 1.0.6 the boundary value; the schema tests
// in test/nft/schema.test.ts pin them).

/** Kernel NFT_NAME_MAXLEN is 256 including the NUL. */
export const MAX_NAME_BYTES = 255;

/**
 * Names that are valid both in the kernel and as bare identifiers of the nft text grammar
 * (the scanner's `string` token), so one name works in JSON and in text.
 */
export const NAME_PATTERN = /^[A-Za-z_.][A-Za-z0-9/_.-]{0,254}$/;

/** JSON accepts up to 253, but a listing with a longer comment cannot be reloaded; 254+ crashes 1.0.6. */
export const MAX_COMMENT_BYTES = 128;

/**
 * Comment characters that survive a text round trip: the text grammar has no escapes inside a quoted
 * string, so `"` ends it, and control characters break the listing's line structure.
 */
export const COMMENT_PATTERN = /^[\x20\x21\x23-\x7e]*$/;

/** Symbolic immediates (protocol names, ct states, fib types, literal addresses). No `/`: a CIDR
 * string would be resolved through DNS, prefixes must be `{"prefix":...}` objects. */
// A trailing `*` is nft's interface-name wildcard (`meta iifname "veth*"`, detectLocalMode
// InterfaceNamePrefix); nft accepts it only where the type is a string.
export const IMMEDIATE_PATTERN = /^[A-Za-z0-9_.:-]+\*?$/;

export const MAX_PREFIX_LEN = { ip: 32, ip6: 128 } as const;

export const MAX_MARK = 0xffffffff;

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && utf8Bytes(name) <= MAX_NAME_BYTES;
}

/**
 * Makes any string (typically a Kubernetes `ns/name:port`) a safe comment: `"` becomes `'`, other
 * unprintable or non-ASCII characters become `?`, and the result is cut to MAX_COMMENT_BYTES.
 * The lowering (so that traces show the same text) and both emitters use this, so the IR, the JSON
 * and the text forms carry the same comment.
 */
export function safeComment(raw: string): string {
  const printable = raw.replace(/"/g, "'").replace(/[^\x20-\x7e]/g, '?');
  return printable.length > MAX_COMMENT_BYTES ? printable.slice(0, MAX_COMMENT_BYTES) : printable;
}

export function isValidComment(comment: string): boolean {
  return COMMENT_PATTERN.test(comment) && utf8Bytes(comment) <= MAX_COMMENT_BYTES;
}

/**
 * Words the nft 1.0.6 text scanner turns into keywords (globally, or in the scanner states our
 * statements enter: ip, ip6, th, tcp, meta, ct, numgen, fib, nat, reject, counter, `@`). A name
 * equal to one of them is fine in JSON but a syntax error in text, where identifiers cannot be
 * quoted; names merely containing them (`counter-x`, `services`) are fine (longest match).
 */
export const TEXT_KEYWORDS: ReadonlySet<string> = new Set(
  `eq ne le lt ge gt lshift rshift xor and or not vmap include define redefine undefine describe
  hook device devices table chain rule set element map flowtable handle ruleset socket tproxy
  accept drop continue jump goto return to inet netdev add replace update create insert delete get
  list reset flush rename import export monitor destroy position index comment constant interval
  dynamic auto-merge timeout gc-interval elements expires policy size flow offload meter counter
  name packets bytes last log prefix queue limit quota over hour day reject with icmpx snat dnat
  masquerade redirect random fully-random persistent port ll nh th bridge ether saddr daddr type
  typeof vlan id arp ip version hdrlength dscp ecn length frag-off ttl protocol checksum lsrr rr
  ssrr ra ptr value option options ackseq doff window urgptr echo eol maxseg mss nop noop sack sack0
  sack1 sack2 sack3 sack-permitted sack-perm timestamp fastopen mptcp md5sig left right count tsval
  tsecr subtype time icmp icmpv6 sequence reserved igmp ip6 priority flowlabel hoplimit nexthdr ah
  esp comp flags udp udplite vxlan vni geneve gre gretap tcp dccp sctp sport dport rt rt0 rt2 srh
  addr hbh frag dst mh meta mark iif iifname iiftype oif oifname oiftype skuid skgid nftrace
  rtclassid ibriport ibrname obriport obrname pkttype cpu iifgroup oifgroup cgroup ct avgpkt l3proto
  proto-src proto-dst zone original reply direction event expectation expiration helper helpers
  label state status numgen inc jhash symhash seed mod offset dup fwd fib check osf synproxy tunnel
  notrack all exists missing exthdr ipsec secmark xt`.split(/\s+/),
);
