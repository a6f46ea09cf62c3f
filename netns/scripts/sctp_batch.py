# SCTP request batch for client.ts: reads {"requests":[{host,port,timeoutMs,payload}]} on stdin and
# prints a JSON array of results in the same shape as client-batch.mjs.
import errno, json, socket, sys, time

ERRORS = {
    errno.ECONNREFUSED: 'refused', errno.ETIMEDOUT: 'timeout', errno.EHOSTUNREACH: 'unreachable',
    errno.ENETUNREACH: 'unreachable', errno.ECONNRESET: 'reset', errno.EPERM: 'blocked',
    errno.EACCES: 'blocked', errno.EPROTONOSUPPORT: 'unsupported',
}

def one(req):
    t0 = time.monotonic()
    el = lambda: round((time.monotonic() - t0) * 1000, 3)
    host, port = req['host'], req['port']
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    local_port = None
    try:
        s = socket.socket(fam, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    except OSError as e:
        return {'ok': False, 'error': ERRORS.get(e.errno, 'error'), 'code': errno.errorcode.get(e.errno, str(e.errno)), 'elapsedMs': el()}
    s.settimeout(req.get('timeoutMs', 1000) / 1000.0)
    try:
        s.connect((host, port))
        local_port = s.getsockname()[1]
        s.sendall((req.get('payload', 'hello') + '\n').encode())
        buf = b''
        while b'\n' not in buf:
            d = s.recv(65536)
            if not d:
                return {'ok': False, 'error': 'closed', 'elapsedMs': el(), 'localPort': local_port}
            buf += d
        raw = buf.split(b'\n', 1)[0].decode('utf8', 'replace')
        return {'ok': True, 'raw': raw, 'elapsedMs': el(), 'localPort': local_port}
    except socket.timeout:
        return {'ok': False, 'error': 'timeout', 'elapsedMs': el(), **({'localPort': local_port} if local_port else {})}
    except OSError as e:
        return {'ok': False, 'error': ERRORS.get(e.errno, 'error'), 'code': errno.errorcode.get(e.errno, str(e.errno)), 'elapsedMs': el()}
    finally:
        s.close()

job = json.load(sys.stdin)
print(json.dumps([one(r) for r in job['requests']]))
