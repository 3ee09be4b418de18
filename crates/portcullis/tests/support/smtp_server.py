"""A real SMTP server for Portcullis's tests (aiosmtpd).

Listens on 127.0.0.1 (port 0: any free port), requires STARTTLS (or speaks
TLS from the first byte with --implicit-tls) and AUTH with the given login,
and writes every message it accepts to DIR as one JSON file: the envelope,
the login, the raw data, the headers, and the decoded text and HTML parts. Prints the port it listens on,
then serves until killed.
"""

import argparse
import asyncio
import json
import os
import ssl
import time
from email import policy
from email.parser import BytesParser

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Recorder:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = f"{time.time_ns()}-{self.count}.json"
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", "replace"),
            "login": session.auth_data.login.decode() if session.auth_data else None,
            "headers": {k.lower(): str(v) for k, v in message.items()},
            "content_type": message.get_content_type(),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        }
        temporary = os.path.join(self.directory, name + ".tmp")
        with open(temporary, "w") as out:
            json.dump(record, out)
        # Renamed into place whole, so that a reader never sees half a file.
        os.rename(temporary, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        good = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == args.user.encode()
            and auth_data.password == args.password.encode()
        )
        return AuthResult(success=good, handled=False, auth_data=auth_data if good else None)

    recorder = Recorder(args.dir)

    def protocol():
        if args.implicit_tls:
            return SMTP(recorder, hostname="localhost", authenticator=authenticate,
                        auth_required=True, auth_require_tls=False)
        return SMTP(recorder, hostname="localhost", tls_context=context,
                    require_starttls=True, authenticator=authenticate,
                    auth_required=True, auth_require_tls=True)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        protocol, host="127.0.0.1", port=args.port,
        ssl=context if args.implicit_tls else None,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
