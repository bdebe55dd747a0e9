/**
 * Plain http to this machine (a local emulator, the demo's API): the only http a TokenLedger client accepts. Over
 * any other network a bearer token or an account key must travel over TLS (RFC 6750 §5.3).
 */
export function isLoopbackHttp(url: URL | string): boolean {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  if (parsed.protocol !== 'http:') return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
