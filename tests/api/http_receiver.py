"""An HTTP(S) receiver for the http_config tests.

Records one JSON line per request to --out: {"path", "authorization", "client_cert", "body"}.
With --cert/--key it serves HTTPS; with --client-ca it requires a client certificate signed by
that CA. As a plain HTTP server it also stands in for a forward proxy: a proxied request
arrives with the absolute URL as its path.
"""

import argparse
import http.server
import json
import ssl

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--client-ca")
args = parser.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        peer = None
        if hasattr(self.connection, "getpeercert"):
            cert = self.connection.getpeercert()
            if cert:
                peer = dict(x[0] for x in cert.get("subject", ()))["commonName"]
        line = {
            "path": self.path,
            "authorization": self.headers.get("authorization"),
            "client_cert": peer,
            "body": body.decode("utf-8", "replace"),
        }
        with open(args.out, "a") as f:
            f.write(json.dumps(line) + "\n")
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


server = http.server.HTTPServer(("127.0.0.1", args.port), Handler)
if args.cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.client_ca)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
