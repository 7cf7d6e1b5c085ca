#!/usr/bin/python3
"""A real SMTP server for the tests: aiosmtpd (Debian python3-aiosmtpd) on a free loopback
port, with STARTTLS or implicit TLS from a certificate the test made, AUTH PLAIN/LOGIN, and
replies the test scripts (451 then 250, 550 for one recipient, a slow end of DATA).

    smtp_server.py CONFIG_JSON RECORD_FILE

CONFIG_JSON: {"tls": "starttls"|"implicit"|"none", "cert": PEM, "key": PEM,
              "auth": {"user": ..., "password": ...},       # AUTH offered (and required)
              "rcpt": {"addr@x": ["451 4.2.1 busy", null]},  # replies to successive RCPTs
              "data": ["451 4.3.0 later", null],             # replies to successive DATA ends
              "data_delay": 0.0, "size": 0, "smtputf8": true,
              "light": false}                                # true: record no content (bench)
null in a reply list, or a list used up, accepts. Prints {"port": N} on stdout once
listening. Every connection, accepted message and refusal is appended to RECORD_FILE as one
JSON line; a message is parsed with Python's email package (policy.default) so the test sees
headers and parts as a mail client would."""

import asyncio
import base64
import email
import email.policy
import json
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

config = json.loads(sys.argv[1])
record_file = open(sys.argv[2], "a", encoding="utf-8")
connections = 0


def record(entry):
    entry["t"] = time.monotonic()
    record_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
    record_file.flush()


def parsed(content):
    try:
        # UTF-8 headers (RFC 6532, sent with SMTPUTF8) read as text; anything else as bytes.
        message = email.message_from_string(content.decode("utf-8"), policy=email.policy.default)
    except UnicodeDecodeError:
        message = email.message_from_bytes(content, policy=email.policy.default)
    parts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "transfer_encoding": part.get("Content-Transfer-Encoding"),
            "content": part.get_content(),
        })
    return {
        "headers": [[name, str(value)] for name, value in message.items()],
        "raw_headers": [[name, value] for name, value in message.raw_items()],
        "content_type": message.get_content_type(),
        "parts": parts,
        "defects": [type(d).__name__ for d in message.defects],
    }


def scripted(replies, key):
    """The next scripted reply for `key`, or None (accept)."""
    queue = replies.get(key) if isinstance(replies, dict) else replies
    if not queue:
        return None
    return queue.pop(0)


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = scripted(config.get("rcpt", {}), address)
        if reply:
            record({"event": "rcpt_refused", "conn": server.conn_id, "rcpt": address, "reply": reply})
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        delay = config.get("data_delay", 0)
        if delay:
            await asyncio.sleep(delay)
        reply = scripted(config.get("data", []), None)
        if config.get("light"):  # benchmarks: count messages, parse nothing
            record({"event": "message", "conn": server.conn_id, "rcpt_tos": list(envelope.rcpt_tos)})
            return "250 2.0.0 OK queued"
        entry = {
            "conn": server.conn_id, "tls": session.ssl is not None,
            "auth": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "raw": base64.b64encode(envelope.original_content or envelope.content).decode(),
            "message": parsed(envelope.original_content or envelope.content),
        }
        if reply:
            entry["event"] = "data_refused"
            entry["reply"] = reply
            record(entry)
            return reply
        entry["event"] = "message"
        record(entry)
        return "250 2.0.0 OK queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    expected = config.get("auth")
    ok = (expected is not None and isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == expected["user"]
          and auth_data.password.decode() == expected["password"])
    record({"event": "auth", "conn": server.conn_id, "mechanism": mechanism, "ok": ok})
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class RecordingSMTP(SMTP):
    def connection_made(self, transport):
        global connections
        starting_tls = self.transport is not None  # the same connection after STARTTLS
        super().connection_made(transport)
        if not starting_tls:
            connections += 1
            self.conn_id = connections
            record({"event": "connect", "conn": connections, "peer": list(self.session.peer)})


def tls_context():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config["cert"], config["key"])
    return context


def make_protocol():
    tls = config.get("tls", "none")
    kwargs = {
        "enable_SMTPUTF8": config.get("smtputf8", True),
        "decode_data": False,
        "data_size_limit": config.get("size", 0) or None,
        "hostname": "smtp.test",
        "ident": "switchyard-test-smtp",
    }
    if tls == "starttls":
        kwargs.update(tls_context=tls_context(), require_starttls=True)
    if config.get("auth"):
        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=tls != "none")
    return RecordingSMTP(Handler(), **kwargs)


async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    context = tls_context() if config.get("tls") == "implicit" else None
    server = await loop.create_server(make_protocol, "127.0.0.1", 0, ssl=context)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    await stop
    server.close()


asyncio.run(main())
