#!/usr/bin/python3
# hostile-registry.py - a registry that attacks its client, for the security
# tests (test/t/61-security-registry.t).  One thread per connection; every
# request is logged to $HOSTILE_LOG as "PORT METHOD TARGET auth=VALUE|-"
# (TARGET with bytes outside printable ASCII as \xNN).
#
#   hostile-registry.py MODE PORT [PORT...] [-- ARG...]
#
# Modes (the first PORT is "the registry", the others "other origins"):
#   sink            log, answer 404
#   basic-redirect  401 Basic until an Authorization comes, then answer
#                   /v2/ with 200 and everything else with a 307 to
#                   ARG (a URL prefix) + the path
#   token-redirect  /v2/ 401 Bearer realm=http://127.0.0.1:PORT/token;
#                   /token 307 to ARG + "/token"
#   continue        "100 Continue" forever
#   trailers        200, chunked, an empty last chunk, then trailers forever
#   slowloris       the status line, one byte a second, forever
#   location        /v2/ 200; anything else 307 to ARG verbatim (its
#                   bytes decoded from \xNN escapes)
#   bomb            serves the image in $HOSTILE_DIR (manifest.json: a
#                   v2s2 manifest; blobs/<hex>) with every layer replaced
#                   by $HOSTILE_DIR/bomb.gz under the manifest's digest
import os, re, socket, sys, threading, time

mode, rest = sys.argv[1], sys.argv[2:]
ports, args = (rest[:rest.index('--')], rest[rest.index('--') + 1:]) if '--' in rest else (rest, [])
ports = [int(p) for p in ports]
log_path = os.environ.get('HOSTILE_LOG', '/dev/null')
lock = threading.Lock()

def esc(b):
    return ''.join(chr(c) if 0x20 < c < 0x7f else '\\x%02x' % c for c in b)

def log(port, method, target, auth):
    with lock, open(log_path, 'a') as f:
        f.write('%d %s %s auth=%s\n' % (port, esc(method), esc(target), esc(auth) if auth else '-'))

def send(c, status, headers=(), body=b''):
    head = 'HTTP/1.1 %s\r\n' % status
    for h in headers:
        head += h + '\r\n'
    c.sendall(head.encode('latin-1') + b'Content-Length: %d\r\n\r\n' % len(body) + body)

def serve(c, port):
    if c.recv(1, socket.MSG_PEEK) == b'\x16':
        return  # a TLS handshake: no TLS here (lrun falls back to http)
    f = c.makefile('rb')
    while True:
        line = f.readline(65536)
        if not line:
            return
        parts = line.rstrip(b'\r\n').split(b' ')
        method, target = parts[0], b' '.join(parts[1:-1])
        auth = None
        while True:
            h = f.readline(65536)
            if h in (b'\r\n', b'\n', b''):
                break
            k, _, v = h.partition(b':')
            if k.strip().lower() == b'authorization':
                auth = v.strip()
        log(port, method, target, auth)
        t = target.decode('latin-1')
        if mode == 'sink':
            send(c, '404 Not Found')
        elif mode == 'basic-redirect':
            if port != ports[0]:
                send(c, '404 Not Found')
            elif not auth:
                send(c, '401 Unauthorized', ['WWW-Authenticate: Basic realm="hostile"'])
            elif t == '/v2/':
                send(c, '200 OK', ['Content-Type: application/json'], b'{}')
            else:
                send(c, '307 Temporary Redirect', ['Location: ' + args[0] + t])
        elif mode == 'token-redirect':
            if port != ports[0]:
                send(c, '404 Not Found')
            elif t.startswith('/token'):
                send(c, '307 Temporary Redirect', ['Location: ' + args[0] + '/token'])
            else:
                send(c, '401 Unauthorized',
                     ['WWW-Authenticate: Bearer realm="http://127.0.0.1:%d/token",service="hostile"' % port])
        elif mode == 'continue':
            while True:
                c.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
        elif mode == 'trailers':
            c.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n')
            while True:
                c.sendall(b'X-Trailer: endless\r\n')
        elif mode == 'slowloris':
            for b in b'HTTP/1.1 200 OK\r\nX-Slow: ' + b'a' * 100000:
                c.sendall(bytes([b]))
                time.sleep(1)
        elif mode == 'location':
            if t == '/v2/':
                send(c, '200 OK', ['Content-Type: application/json'], b'{}')
            else:
                loc = re.sub(rb'\\x([0-9a-f]{2})', lambda m: bytes([int(m.group(1), 16)]), args[0].encode())
                c.sendall(b'HTTP/1.1 307 Temporary Redirect\r\nLocation: ' + loc + b'\r\nContent-Length: 0\r\n\r\n')
        elif mode == 'bomb':
            d = os.environ['HOSTILE_DIR']
            m = re.match(r'/v2/.*/(manifests|blobs)/(.*)$', t)
            if t == '/v2/':
                send(c, '200 OK', ['Content-Type: application/json'], b'{}')
            elif m and m.group(1) == 'manifests':
                body = open(d + '/manifest.json', 'rb').read()
                send(c, '200 OK', ['Content-Type: application/vnd.docker.distribution.manifest.v2+json'], body)
            elif m and os.path.exists(d + '/blobs/' + m.group(2).split(':')[-1]):
                send(c, '200 OK', [], open(d + '/blobs/' + m.group(2).split(':')[-1], 'rb').read())
            elif m:
                send(c, '200 OK', [], open(d + '/bomb.gz', 'rb').read())
            else:
                send(c, '404 Not Found')

def accept(s, port):
    while True:
        c, _ = s.accept()
        threading.Thread(target=lambda: (serve_safe(c, port)), daemon=True).start()

def serve_safe(c, port):
    try:
        serve(c, port)
    except OSError:
        pass
    finally:
        c.close()

for p in ports:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', p))
    s.listen(16)
    threading.Thread(target=accept, args=(s, p), daemon=True).start()
with open(os.environ.get('HOSTILE_READY', '/dev/null'), 'w') as f:
    f.write('ready\n')
while True:
    time.sleep(3600)
