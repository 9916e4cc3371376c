"""Reads one email (as aiosmtpd's Debugging handler printed it) on stdin and prints its
Subject and its decoded text/plain and text/html parts as JSON, with Python's own MIME parser."""

import email
import email.policy
import json
import sys

raw = sys.stdin.read()
# aiosmtpd's Debugging handler prints the envelope's options before the message ("mail options:
# [...]" and a blank line) and a marker after it.
raw = raw.split("------------ END MESSAGE ------------")[0].strip("\n")
lines = raw.split("\n")
while lines and (lines[0].startswith(("mail options:", "rcpt options:")) or not lines[0].strip()):
    lines.pop(0)
raw = "\n".join(lines)
msg = email.message_from_string(raw, policy=email.policy.default)
out = {"subject": str(msg["subject"]), "text": None, "html": None}
for part in msg.walk():
    kind = part.get_content_type()
    if kind == "text/plain" and out["text"] is None:
        out["text"] = part.get_content()
    elif kind == "text/html" and out["html"] is None:
        out["html"] = part.get_content()
print(json.dumps(out))
