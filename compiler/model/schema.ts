// zod schemas for the parts of Kubernetes objects the proxy uses. Lenient where Kubernetes is
// lenient (unknown fields are dropped, defaults as the API server applies them), strict where a
// wrong value would end up in the datapath (addresses, ports, names that go into comments).
// Every message says what was expected, so a Problem built from it is actionable on its own.
//
// Lists whose items can be skipped one by one (EndpointSlice ports and endpoints, Node addresses)
// are typed `unknown[]` here and parsed item by item with their own schema, so one bad endpoint
// does not take down the whole slice.

import { z } from 'zod';
import { ipFamily, isValidIp, parseCidr } from '../../ir/ip.js';

/** Error option: distinguishes a missing field from a field of the wrong type. */
function expecting(what: string): { error: (iss: { input?: unknown }) => string } {
  return {
    error: (iss) => (iss.input === undefined ? `required field is missing (expected ${what})` : `expected ${what}`),
  };
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** DNS-1123 label: namespaces, Service names, port names (≤ 63, lowercase alphanumerics and '-'). */
export const dnsLabel = z
  .string(expecting('a DNS-1123 label'))
  .min(1, { error: 'expected a non-empty DNS-1123 label' })
  .max(63, { error: 'expected at most 63 characters (DNS-1123 label)' })
  .regex(DNS1123_LABEL, {
    error: "expected a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
  });

/** DNS-1123 subdomain: EndpointSlice and Node names (≤ 253, labels joined by dots). */
export const dnsSubdomain = z
  .string(expecting('a DNS-1123 subdomain'))
  .min(1, { error: 'expected a non-empty DNS-1123 subdomain' })
  .max(253, { error: 'expected at most 253 characters (DNS-1123 subdomain)' })
  .regex(DNS1123_SUBDOMAIN, {
    error: "expected a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'",
  });

const namespace = dnsLabel.default('default');

export const portNumber = z
  .int(expecting('an integer port number 1..65535'))
  .min(1, { error: 'expected a port number 1..65535 (0 is not a valid port)' })
  .max(65535, { error: 'expected a port number 1..65535' });

export const ipAddress = z
  .string(expecting('an IPv4 or IPv6 address'))
  .refine(isValidIp, { error: (iss) => `expected an IPv4 or IPv6 address, got ${JSON.stringify(iss.input)}` });

export const protocol = z.enum(['TCP', 'UDP', 'SCTP'], { error: 'expected protocol TCP, UDP or SCTP' }).default('TCP');

const trafficPolicy = (field: string) =>
  z.enum(['Cluster', 'Local'], { error: `expected ${field} Cluster or Local` }).default('Cluster');

// ---------------------------------------------------------------------------------------------
// Service (v1)

export const servicePortSchema = z.object({
  name: z
    .string(expecting('a port name'))
    .max(63, { error: 'expected a port name of at most 63 characters' })
    .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/, {
      error: "expected a port name of lowercase letters, digits and '-' (DNS-1123 label)",
    })
    .default(''),
  protocol,
  port: portNumber,
  targetPort: z
    .union([portNumber, z.string().min(1).max(15)], {
      error: 'expected targetPort as a port number 1..65535 or a port name (at most 15 characters)',
    })
    .optional(),
  nodePort: z
    .int(expecting('an integer nodePort'))
    .min(1, { error: 'expected nodePort in 1..65535' })
    .max(65535, { error: 'expected nodePort in 1..65535' })
    .optional(),
});

const clusterIPValue = z
  .string(expecting('an IP address, "None" or ""'))
  .refine((s) => s === '' || s === 'None' || isValidIp(s), {
    error: (iss) => `expected an IP address or "None", got ${JSON.stringify(iss.input)}`,
  });

const ipFamilyName = z.enum(['IPv4', 'IPv6'], { error: 'expected IP family IPv4 or IPv6' });

export const serviceSchema = z
  .object({
    metadata: z.object(
      {
        name: dnsLabel,
        namespace,
        // Decides conflicts between Services (compiler/model/conflicts.ts); a malformed one only
        // makes the Service count as the newest, it does not invalidate it.
        creationTimestamp: z.string().optional().catch(undefined),
      },
      expecting('metadata with a name'),
    ),
    spec: z.object(
      {
        type: z
          .enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'], {
            error: 'expected type ClusterIP, NodePort, LoadBalancer or ExternalName',
          })
          .default('ClusterIP'),
        clusterIP: clusterIPValue.optional(),
        clusterIPs: z.array(clusterIPValue, expecting('a list of IP addresses')).optional(),
        ipFamilies: z.array(ipFamilyName, expecting('a list of IP families')).optional(),
        ports: z.array(servicePortSchema, expecting('a list of ports')).default([]),
        externalIPs: z.array(ipAddress, expecting('a list of IP addresses')).default([]),
        loadBalancerSourceRanges: z
          .array(
            z
              .string(expecting('a CIDR'))
              .transform((s) => s.trim())
              .refine((s) => parseCidr(s) !== undefined, {
                error: (iss) => `expected a CIDR such as 10.0.0.0/8, got ${JSON.stringify(iss.input)}`,
              }),
            expecting('a list of CIDRs'),
          )
          .default([]),
        externalTrafficPolicy: trafficPolicy('externalTrafficPolicy'),
        internalTrafficPolicy: trafficPolicy('internalTrafficPolicy'),
        sessionAffinity: z
          .enum(['None', 'ClientIP'], { error: 'expected sessionAffinity None or ClientIP' })
          .default('None'),
        sessionAffinityConfig: z
          .object({
            clientIP: z
              .object({
                timeoutSeconds: z
                  .int(expecting('an integer number of seconds'))
                  .min(1, { error: 'expected timeoutSeconds in 1..86400' })
                  .max(86400, { error: 'expected timeoutSeconds in 1..86400' })
                  .optional(),
              })
              .optional(),
          })
          .optional(),
        healthCheckNodePort: portNumber.optional(),
        trafficDistribution: z.string(expecting('a string')).optional(),
        externalName: z.string(expecting('a DNS name')).optional(),
      },
      expecting('a spec object'),
    ),
    status: z
      .object({
        loadBalancer: z
          .object({
            ingress: z
              .array(
                z.object({
                  ip: ipAddress.optional(),
                  hostname: z.string().optional(),
                  // KEP-1860: "Proxy" means the load balancer does not deliver packets with the
                  // LB IP as destination, so the proxy must not capture it.
                  ipMode: z.enum(['VIP', 'Proxy'], { error: 'expected ipMode VIP or Proxy' }).optional(),
                }),
              )
              .default([]),
          })
          .optional(),
      })
      .optional(),
  })
  .superRefine((svc, ctx) => {
    const { spec } = svc;
    const issue = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: 'custom', path, message });
    };

    const names = new Map<string, number>();
    const portProtos = new Map<string, number>();
    const nodePorts = new Map<string, number>();
    spec.ports.forEach((p, i) => {
      if (spec.ports.length > 1 && p.name === '') {
        issue(['spec', 'ports', i, 'name'], 'expected a name: every port of a multi-port Service must be named');
      }
      const prevName = names.get(p.name);
      if (p.name !== '' && prevName !== undefined) {
        issue(['spec', 'ports', i, 'name'], `expected unique port names, "${p.name}" is also spec.ports[${prevName}]`);
      } else names.set(p.name, i);
      const key = `${p.protocol}/${p.port}`;
      const prevPort = portProtos.get(key);
      if (prevPort !== undefined) {
        issue(['spec', 'ports', i, 'port'], `expected unique port/protocol, ${key} is also spec.ports[${prevPort}]`);
      } else portProtos.set(key, i);
      if (p.nodePort !== undefined) {
        const nkey = `${p.protocol}/${p.nodePort}`;
        const prevNode = nodePorts.get(nkey);
        if (prevNode !== undefined) {
          issue(['spec', 'ports', i, 'nodePort'], `expected unique nodePorts, ${nkey} is also spec.ports[${prevNode}]`);
        } else nodePorts.set(nkey, i);
      }
    });

    if (spec.type === 'ExternalName') return;
    const ips = spec.clusterIPs ?? (spec.clusterIP !== undefined ? [spec.clusterIP] : []);
    if (ips.length === 0 || ips[0] === '') {
      issue(['spec', 'clusterIP'], 'required field is missing (expected the cluster IP, or "None" for a headless Service)');
      return;
    }
    if (spec.clusterIP !== undefined && spec.clusterIPs !== undefined && spec.clusterIP !== spec.clusterIPs[0]) {
      issue(['spec', 'clusterIPs', 0], `expected clusterIPs[0] to equal clusterIP ${JSON.stringify(spec.clusterIP)}`);
    }
    if (ips[0] === 'None') {
      if (ips.length > 1) issue(['spec', 'clusterIPs'], 'expected a single "None" entry for a headless Service');
      return;
    }
    if (ips.length > 2) issue(['spec', 'clusterIPs'], 'expected at most two cluster IPs (one per family)');
    const families = ips.map((ip) => ipFamily(ip));
    ips.forEach((ip, i) => {
      // Malformed literals were already reported by clusterIPValue; "" and "None" only fit first.
      if (i > 0 && (ip === '' || ip === 'None')) {
        issue(['spec', 'clusterIPs', i], `expected an IP address, got ${JSON.stringify(ip)}`);
      }
    });
    if (ips.length === 2 && families[0] !== undefined && families[0] === families[1]) {
      issue(['spec', 'clusterIPs', 1], 'expected the second cluster IP to be of the other IP family');
    }
    spec.ipFamilies?.forEach((fam, i) => {
      const actual = families[i];
      if (actual !== undefined && fam !== `IPv${actual}`) {
        issue(['spec', 'ipFamilies', i], `expected ${`IPv${actual}`} to match clusterIPs[${i}] ${ips[i] ?? ''}`);
      }
    });
  });

export type ServiceObject = z.infer<typeof serviceSchema>;
export type ServicePortObject = z.infer<typeof servicePortSchema>;

// ---------------------------------------------------------------------------------------------
// EndpointSlice (discovery.k8s.io/v1)

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export const endpointSliceSchema = z.object({
  metadata: z.object(
    {
      name: dnsSubdomain,
      namespace,
      labels: z.record(z.string(), z.string(expecting('a string label value'))).default({}),
    },
    expecting('metadata with a name'),
  ),
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN'], expecting('addressType IPv4, IPv6 or FQDN')),
  ports: z.array(z.unknown(), expecting('a list of ports')).default([]),
  endpoints: z.array(z.unknown(), expecting('a list of endpoints')).default([]),
});

export const endpointPortSchema = z.object({
  // The endpoint controller always sets a name ("" for an unnamed port). kube-proxy ignores a
  // port without one (endpointslicecache.go, "Ignoring port with nil name"), and so do we.
  name: z.string(expecting('a port name')).optional(),
  protocol,
  // A nil port means "all ports" in the API, which kube-proxy does not implement: such ports are skipped.
  port: portNumber.optional(),
});

export const endpointSchema = z.object({
  addresses: z
    .array(z.string(expecting('an IP address')), expecting('a list of addresses'))
    .min(1, { error: 'expected at least one address' }),
  conditions: z
    .object({
      ready: z.boolean(expecting('true or false')).optional(),
      serving: z.boolean(expecting('true or false')).optional(),
      terminating: z.boolean(expecting('true or false')).optional(),
    })
    .default({}),
  nodeName: z.string(expecting('a node name')).optional(),
  zone: z.string(expecting('a zone name')).optional(),
  hints: z
    .object({
      forZones: z.array(z.object({ name: z.string(expecting('a zone name')) })).optional(),
      forNodes: z.array(z.object({ name: z.string(expecting('a node name')) })).optional(),
    })
    .optional(),
});

export type EndpointSliceObject = z.infer<typeof endpointSliceSchema>;
export type EndpointPortObject = z.infer<typeof endpointPortSchema>;
export type EndpointObject = z.infer<typeof endpointSchema>;

// ---------------------------------------------------------------------------------------------
// Node (v1)

export const nodeSchema = z.object({
  metadata: z.object(
    {
      name: dnsSubdomain,
      labels: z.record(z.string(), z.string(expecting('a string label value'))).default({}),
    },
    expecting('metadata with a name'),
  ),
  spec: z
    // Items are checked one by one (build.ts): one bad CIDR must not cost the Node its addresses.
    .object({ podCIDRs: z.array(z.unknown(), expecting('a list of CIDRs')).default([]) })
    .default({ podCIDRs: [] }),
  status: z
    .object({ addresses: z.array(z.unknown(), expecting('a list of addresses')).default([]) })
    .default({ addresses: [] }),
});

// ---------------------------------------------------------------------------------------------
// ServiceCIDR (networking.k8s.io/v1): the ranges cluster IPs are allocated from.

export const serviceCIDRSchema = z.object({
  metadata: z.object({ name: dnsSubdomain }, expecting('metadata with a name')),
  spec: z.object(
    {
      cidrs: z
        .array(
          z.string(expecting('a CIDR')).refine((s) => parseCidr(s) !== undefined, {
            error: (iss) => `expected a CIDR such as 10.96.0.0/12, got ${JSON.stringify(iss.input)}`,
          }),
          expecting('a list of CIDRs'),
        )
        .max(2, { error: 'expected at most two CIDRs (one per IP family)' })
        .default([]),
    },
    expecting('a spec object'),
  ),
});

export type ServiceCIDRObject = z.infer<typeof serviceCIDRSchema>;

export const nodeAddressSchema = z.object({
  type: z.string(expecting('an address type such as InternalIP')),
  address: z.string(expecting('an address')),
});

export type NodeObject = z.infer<typeof nodeSchema>;
export type NodeAddressObject = z.infer<typeof nodeAddressSchema>;
