"""An SMTP server for coeur's tests (aiosmtpd): receives e-mail on a loopback port and prints
each message as one JSON line on stdout, after a first line {"port": N}.

    smtp_sink.py MODE [CERT KEY]

MODE is `none` (plain SMTP), `starttls` (STARTTLS required before MAIL) or `tls` (TLS from
the first byte); CERT and KEY (PEM) are the server's certificate and key for the TLS modes.
With SINK_USER and SINK_PASSWORD in the environment, AUTH (PLAIN or LOGIN, over TLS) with
those credentials is required. A message line: the envelope ("from", "to"), the raw message
("data"), its decoded "subject", "sender", "recipient", "content_type" and "body", whether
it came over TLS ("tls") and the user it authenticated as ("auth").
"""

import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, mode):
        self.mode = mode

    async def handle_DATA(self, server, session, envelope):
        auth = session.auth_data
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        print(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "data": envelope.content.decode("utf-8", "replace"),
                    "subject": str(message["subject"]),
                    "sender": str(message["from"]),
                    "recipient": str(message["to"]),
                    "content_type": message.get_content_type(),
                    "body": message.get_body(("plain",)).get_content(),
                    "tls": self.mode == "tls" or session.ssl is not None,
                    "auth": auth.login.decode() if isinstance(auth, LoginPassword) else None,
                }
            ),
            flush=True,
        )
        return "250 OK"


def main():
    mode = sys.argv[1]
    user = os.environ.get("SINK_USER")
    password = os.environ.get("SINK_PASSWORD")
    context = None
    if mode in ("starttls", "tls"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[2], sys.argv[3])

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def factory():
        return SMTP(
            Sink(mode),
            hostname="sink.test",
            tls_context=context if mode == "starttls" else None,
            require_starttls=mode == "starttls",
            authenticator=authenticator if user else None,
            auth_required=bool(user),
            auth_require_tls=mode == "starttls",
        )

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(
            factory, "127.0.0.1", 0, ssl=context if mode == "tls" else None
        )
    )
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
