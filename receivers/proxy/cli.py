"""``provider-keys``: add, list and revoke the provider keys the proxy uses.

The secret is read from standard input (a prompt without echo on a terminal) and is
never printed or logged; it is stored encrypted under ``ENCRYPTION_KEY``.
"""
from __future__ import annotations

import getpass
import sys

from spanlens_pipeline.cli.common import CommandError, add_config_option, component, load_config, utc_text
from spanlens_pipeline.component import Kind
from spanlens_pipeline.extensions.keystore import KeyStore, ProviderKeys, crypto

from .providers import PROVIDERS


def keystore(args) -> KeyStore:
    """The key store named by ``--config`` (its keystore extension's file)."""
    return component(load_config(args), Kind.EXTENSION, "keystore").open()


def register(sub) -> None:
    p = sub.add_parser("provider-keys", help="manage the provider keys used by the proxy")
    ps = p.add_subparsers(dest="provider_keys_command", required=True, metavar="ACTION")
    a = ps.add_parser("add", help="store a provider key (secret read from stdin) under a Spanlens key")
    a.add_argument("--key", required=True, help="the Spanlens key or its display prefix")
    a.add_argument("--provider", required=True, choices=list(PROVIDERS))
    a.add_argument("--resource-url", help="azure only: https://NAME.openai.azure.com")
    a.add_argument("--name", default="", help="a label")
    a.add_argument("--encrypted", action="store_true",
                   help="stdin holds a ciphertext exported from Spanlens (base64 nonce|tag|ciphertext)")
    add_config_option(a)
    a.set_defaults(func=_add)
    l = ps.add_parser("list", help="list provider keys (never the secrets)")
    l.add_argument("--key", help="only those under this Spanlens key or prefix")
    add_config_option(l)
    l.set_defaults(func=_list)
    r = ps.add_parser("revoke", help="revoke the active key of a provider under a Spanlens key")
    r.add_argument("--key", required=True)
    r.add_argument("--provider", required=True, choices=list(PROVIDERS))
    add_config_option(r)
    r.set_defaults(func=_revoke)



def _read_secret() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("provider secret: ").strip()
    return sys.stdin.readline().strip()


def _add(args) -> int:
    try:
        enc_key = crypto.key_from_env()
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if enc_key is None:
        raise CommandError(f"{crypto.ENV_VAR} is not set; provider keys are stored encrypted under it")
    secret = _read_secret()
    if not secret:
        raise CommandError("no secret on standard input")
    if args.encrypted:
        try:
            crypto.decrypt(enc_key, secret)
        except crypto.DecryptError as exc:
            raise CommandError(f"the ciphertext does not decrypt under {crypto.ENV_VAR}: {exc}") from None
        token = secret
    else:
        token = crypto.encrypt(enc_key, secret)
    store = keystore(args)
    info = store.find_key(args.key)
    pk = ProviderKeys(store).add(info.id, args.provider, token, name=args.name, resource_url=args.resource_url)
    print(f"stored {pk.provider} key {pk.id} under {info.prefix} (project {info.project_name!r})")
    return 0


def _list(args) -> int:
    store = keystore(args)
    key_id = store.find_key(args.key).id if args.key else None
    print(f"{'ID':<36} {'KEY':<18} {'PROVIDER':<11} {'CREATED':<20} {'STATUS':<8} RESOURCE")
    for k in ProviderKeys(store).list(key_id):
        print(f"{k.id:<36} {k.key_prefix:<18} {k.provider:<11} {utc_text(k.created_at):<20} "
              f"{'revoked' if k.revoked_at else 'active':<8} {k.resource_url or ''}")
    return 0


def _revoke(args) -> int:
    store = keystore(args)
    info = store.find_key(args.key)
    pk = ProviderKeys(store).revoke(info.id, args.provider)
    print(f"revoked {pk.provider} key {pk.id} under {info.prefix}")
    return 0
