"""An SMTP server with TLS and AUTH for the email tests (Debian's python3-aiosmtpd).

--mode implicit: TLS from the first byte (as on port 465);
--mode starttls: plain until STARTTLS, which is required before MAIL and AUTH.
AUTH (PLAIN or LOGIN) with --user/--password is required before MAIL. With --client-ca the
client must present a certificate signed by that CA. Every accepted message is appended to
--out, preceded by a line recording the TLS version, the client certificate's subject and the
login used, so a test can check how the message arrived.
"""

import argparse
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--mode", choices=["implicit", "starttls"], required=True)
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--client-ca")
parser.add_argument("--user", required=True)
parser.add_argument("--password", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(args.cert, args.key)
if args.client_ca:
    context.load_verify_locations(args.client_ca)
    context.verify_mode = ssl.CERT_REQUIRED


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == args.user
        and auth_data.password.decode() == args.password
    )
    return AuthResult(success=ok, auth_data=auth_data if ok else None)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        tls = server.transport.get_extra_info("ssl_object")
        version = tls.version() if tls else "none"
        peer = tls.getpeercert() if tls else None
        subject = dict(x[0] for x in peer["subject"]).get("commonName") if peer else "none"
        login = session.auth_data.login.decode() if session.auth_data else "none"
        with open(args.out, "a") as out:
            out.write(f"==== MESSAGE tls={version} client={subject} login={login}\n")
            out.write(envelope.content.decode("utf8", errors="replace"))
            out.write("\n")
        return "250 OK"


common = dict(
    hostname="127.0.0.1", port=args.port, authenticator=authenticator, auth_required=True
)
if args.mode == "implicit":
    # aiosmtpd only advertises AUTH after STARTTLS unless told the connection needs none.
    controller = Controller(
        Handler(), ssl_context=context, auth_require_tls=False, **common
    )
else:
    controller = Controller(
        Handler(), tls_context=context, require_starttls=True, **common
    )
controller.start()
print("listening", flush=True)
threading.Event().wait()
