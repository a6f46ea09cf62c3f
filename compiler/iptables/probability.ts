// kube-proxy prints probabilities with Go's fmt.Sprintf("%0.10f", 1.0/float64(n)). Go rounds
// the exact binary value half-to-even; JavaScript's toFixed rounds ties up, which differs for
// n = 2048, 4096, ... So format from the exact value of the double.

export function goFixed(x: number, prec: number): string {
  if (!Number.isFinite(x) || x < 0) throw new Error(`goFixed: unsupported value ${x}`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (expBits === 0) exp = -1074;
  else {
    mantissa |= 1n << 52n;
    exp = expBits - 1075;
  }
  let num = mantissa * 10n ** BigInt(prec);
  let den = 1n;
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  let q = num / den;
  const twice = (num % den) * 2n;
  if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  const digits = q.toString().padStart(prec + 1, '0');
  return `${digits.slice(0, digits.length - prec)}.${digits.slice(digits.length - prec)}`;
}

/** computeProbability(n) in pkg/proxy/iptables. */
export function kubeProxyProbability(n: number): string {
  return goFixed(1 / n, 10);
}
