"""A ticket webhook receiver for the tests.

Verifies every delivery with the Standard Webhooks reference library (PyPI `standardwebhooks`),
not with syncwatch's code; answers 503 to the first --fail deliveries (an outage), then 204; and
appends one JSON line per request to --out: {"id", "type", "ticket", "verified", "status"}.
"""

import argparse
import http.server
import json

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--secret", required=True, help="the one secret this receiver holds")
parser.add_argument("--fail", type=int, default=0, help="deliveries answered 503 first")
parser.add_argument("--out", required=True)
args = parser.parse_args()

webhook = Webhook(args.secret)
seen = {"requests": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            webhook.verify(body, dict(self.headers.items()))
            verified = True
        except WebhookVerificationError:
            verified = False
        seen["requests"] += 1
        status = 503 if seen["requests"] <= args.fail else 204
        payload = json.loads(body)
        line = {
            "id": self.headers.get("webhook-id"),
            "type": payload.get("type"),
            "ticket": payload["data"]["event"]["ticket_id"],
            "verified": verified,
            "status": status,
        }
        with open(args.out, "a") as f:
            f.write(json.dumps(line) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *_):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
