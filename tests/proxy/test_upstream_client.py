"""The proxy's upstream client against real servers: TLS, keep-alive reuse, body framings."""
from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from spanlens_pipeline.receivers.proxy.upstream import Upstream, UpstreamError


def _certificate(tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


async def _read_all(resp) -> bytes:
    out = b""
    while chunk := await resp.read_chunk():
        out += chunk
    resp.close()
    return out


def _server(answer, tls: ssl.SSLContext | None = None):
    """A raw HTTP/1.1 server: ``answer(head, nth on this connection)`` gives bytes (None: hang up) and
    whether to close after them."""
    served: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        on_this = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                served.append(head + body)
                on_this += 1
                data, close = answer(head, on_this)
                if data is None:  # hang up without answering
                    break
                writer.write(data)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return handle, served


def test_https_with_a_trusted_certificate_and_refused_otherwise(tmp_path):
    cert, key = _certificate(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    handle, served = _server(lambda head, n: (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", False))

    async def main() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        trusting = Upstream(ssl.create_default_context(cafile=cert))
        try:
            for _ in range(2):
                resp = await trusting.request("POST", f"https://localhost:{port}/v1/x", [("a", "b c")],
                                              {"content-type": "application/json"}, b"{}")
                assert resp.status == 200 and await _read_all(resp) == b"hello"
            with pytest.raises(UpstreamError):
                await Upstream().request("GET", f"https://localhost:{port}/", None, {}, b"")
        finally:
            await trusting.close()
            srv.close()

    asyncio.run(main())
    assert served[0].startswith(b"POST /v1/x?a=b+c HTTP/1.1\r\n") and served[0].endswith(b"\r\n\r\n{}")
    assert b"\r\nhost: localhost:" in served[0] and b"\r\ncontent-length: 2\r\n" in served[0]


def test_a_reused_connection_the_server_drops_is_retried_once_on_a_new_one(tmp_path):
    def answer(head: bytes, n: int) -> tuple[bytes | None, bool]:
        # keep-alive is offered, but a second request on a connection finds it gone
        return (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok" if n == 1 else None), False

    handle, served = _server(answer)

    async def main() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        up = Upstream()
        try:
            for _ in range(3):
                resp = await up.request("GET", f"http://127.0.0.1:{port}/", None, {}, b"")
                assert await _read_all(resp) == b"ok"
        finally:
            await up.close()
            srv.close()

    asyncio.run(main())
    assert len(served) == 5  # three answered, two dropped on reused connections and sent again


def test_chunked_close_delimited_and_bodiless_answers():
    answers = {
        b"/chunked": (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", False),
        b"/until-close": (b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it", True),
        b"/head": (b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n", False),
        b"/empty": (b"HTTP/1.1 204 No Content\r\n\r\n", False),
    }
    handle, _ = _server(lambda head, n: answers[head.split(b" ")[1]])

    async def main() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
        up = Upstream()
        try:
            assert await _read_all(await up.request("GET", base + "/chunked", None, {}, b"")) == b"abcde"
            assert await _read_all(await up.request("GET", base + "/until-close", None, {}, b"")) == b"all of it"
            resp = await up.request("HEAD", base + "/head", None, {}, b"")
            assert resp.status == 200 and resp.headers["content-length"] == "99" and await _read_all(resp) == b""
            resp = await up.request("GET", base + "/empty", None, {}, b"")
            assert resp.status == 204 and await _read_all(resp) == b""
        finally:
            await up.close()
            srv.close()

    asyncio.run(main())


def test_a_header_value_with_a_line_break_is_never_sent():
    handle, served = _server(lambda head, n: (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", False))

    async def main() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        up = Upstream()
        try:
            with pytest.raises(UpstreamError, match="line break"):
                await up.request("GET", f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/", None,
                                 {"authorization": "Bearer sk-x\r\nx-injected: 1"}, b"")
        finally:
            await up.close()
            srv.close()

    asyncio.run(main())
    assert served == []
