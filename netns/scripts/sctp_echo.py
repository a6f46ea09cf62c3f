# SCTP echo server for pod namespaces (Node has no SCTP; Python's socket module does on Linux).
# Usage: python3 sctp_echo.py '{"name":"pod-a","sctp":[8080]}'. Same reply format as
# echo-server.mjs; prints READY when bound; exits when stdin closes.
import json, socket, sys, threading

cfg = json.loads(sys.argv[1] if len(sys.argv) > 1 else '{}')
name = str(cfg.get('name', socket.gethostname()))

def strip(a):
    return a[7:] if a.startswith('::ffff:') else a

def serve(conn):
    with conn:
        local = conn.getsockname()
        peer = conn.getpeername()
        buf = b''
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                msg = {'pod': name, 'proto': 'sctp', 'local': strip(local[0]), 'localPort': local[1],
                       'peer': strip(peer[0]), 'peerPort': peer[1], 'req': line.decode('utf8', 'replace')}
                conn.sendall((json.dumps(msg) + '\n').encode())

def accept_loop(srv):
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()

for port in cfg.get('sctp', []):
    for fam, host in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
        s = socket.socket(fam, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, port))
        s.listen(128)
        threading.Thread(target=accept_loop, args=(s,), daemon=True).start()

sys.stdout.write('READY\n')
sys.stdout.flush()
sys.stdin.read()
