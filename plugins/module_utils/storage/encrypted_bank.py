# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-side encryption of a bank (AES-256-GCM), for any backend.

Why: the bank (a Swift container, a shared folder) is often run by someone
else than the owner of the data, and checkpoints hold whole images and the
project's metadata. With a key, every object value is encrypted before it
leaves this process; the backend stores and checksums ciphertext only.

Layout of an encrypted object::

  b'KBENC' | version (1 byte) | key id (16 bytes) | nonce (12 bytes) | ciphertext | GCM tag (16)

* the nonce is random per write (96 bits, as GCM wants);
* the associated data is the header plus the object's key, so an object
  moved or copied under another key fails authentication;
* the key id is derived from the key with HKDF (never the key itself), so a
  wrong key is named as such instead of looking like damage;
* the bank's own sha256 is computed over the stored ciphertext, so checksum
  checks of the backend keep working without the key.

From the 32-byte master key HKDF-SHA256 derives three independent values:
the AES-256-GCM key, an HMAC-SHA256 key for content-addressed chunk ids
(``content_digest``: the bank must not reveal the sha256 of the content,
which would let anyone holding a candidate file test for its presence),
and the key id.

One object stays readable without the key: ``/bank-encryption.json``, the
marker that says the bank is encrypted and with which key id. ``open_bank``
checks it before anything is read or written, so a run with a wrong or
missing key stops with a clear message before it changes the bank or the
cloud. Object keys (names), sizes and times stay visible to the backend.
Mixed banks are refused: a key cannot be turned on for a bank that already
holds unencrypted checkpoints, and an unencrypted object found in an
encrypted bank is reported as tampering, never trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any, NamedTuple

from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import (
    Bank, StoredObject, normalize_key, to_bytes)
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, BankError, Conflict, InvalidInput, KarborError, NotFound)

# cryptography is imported when a key is used (_require_cryptography()), not here: only
# encrypted banks need it, and importing it cost every module run about 10 ms.

KEY_SIZE = 32
MAGIC = b'KBENC'
FORMAT_VERSION = 1
KEY_ID_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = len(MAGIC) + 1 + KEY_ID_SIZE + NONCE_SIZE
CIPHER = 'AES-256-GCM'
MARKER_KEY = '/bank-encryption.json'
_SALT = b'karbor.protection bank encryption v1'
_AAD_PREFIX = b'karbor.protection object\x00'


class EncryptionKeyError(BankError):
    """The bank is encrypted with another key than the one given (or none was given)."""


class DerivedKeys(NamedTuple):
    cipher: bytes
    chunk_ids: bytes
    key_id: bytes


class _Crypto(NamedTuple):
    InvalidTag: type
    hashes: Any
    AESGCM: type
    HKDF: type


_CRYPTO: _Crypto | None = None


def _require_cryptography() -> _Crypto:
    """cryptography's primitives, imported on first use; BankError when it is missing."""
    global _CRYPTO
    if _CRYPTO is None:
        try:
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        except ImportError:
            raise BankError('Bank encryption needs the Python library "cryptography" (it comes '
                            'with ansible-core); install it in the Python that runs the modules '
                            '(pip install cryptography), or remove the encryption key options.')
        _CRYPTO = _Crypto(InvalidTag, hashes, AESGCM, HKDF)
    return _CRYPTO


def _hkdf(master: bytes, label: bytes, length: int) -> bytes:
    crypto = _require_cryptography()
    return crypto.HKDF(algorithm=crypto.hashes.SHA256(), length=length, salt=_SALT,
                       info=label).derive(master)


def derive_keys(master: bytes) -> DerivedKeys:
    """Independent subkeys, so the chunk-id HMAC and the key id reveal
    nothing about the encryption key."""
    _require_cryptography()
    if not isinstance(master, bytes) or len(master) != KEY_SIZE:
        raise InvalidInput('The bank encryption key must be exactly %d bytes.' % KEY_SIZE)
    return DerivedKeys(_hkdf(master, b'aes-256-gcm object key', KEY_SIZE),
                       _hkdf(master, b'hmac-sha256 chunk id key', KEY_SIZE),
                       _hkdf(master, b'key id', KEY_ID_SIZE))


def key_id_of(master: bytes) -> str:
    """The public fingerprint of a key (hex), as recorded in the bank."""
    return derive_keys(master).key_id.hex()


def parse_key(raw: bytes, where: str, allow_raw: bool = True) -> bytes:
    """32 random bytes given as base64 or hex (surrounding white space
    ignored), or, from a file (``allow_raw``), as exactly 32 raw bytes."""
    if allow_raw and len(raw) == KEY_SIZE:
        return raw
    text = raw.strip()
    candidates = []
    try:
        candidates.append(base64.b64decode(text.replace(b'-', b'+').replace(b'_', b'/'),
                                           validate=True))
    except (binascii.Error, ValueError):
        pass
    if len(text) == 2 * KEY_SIZE:
        try:
            candidates.append(binascii.unhexlify(text))
        except (binascii.Error, ValueError):
            pass
    for key in candidates:
        if len(key) == KEY_SIZE:
            return key
    found = max((len(k) for k in candidates), default=len(text))
    raise InvalidInput('%s does not hold a %d-byte (256-bit) key: found %d bytes. Give 32 random '
                       'bytes as base64%s; make one with: openssl rand -base64 32'
                       % (where, KEY_SIZE, found, ' (or raw, or hex)' if allow_raw else
                          ' (or hex)'))


def load_key(key_file: str | None, key_text: str | None) -> bytes | None:
    """The master key from ``encryption_key_file`` or ``encryption_key``; None when neither is set."""
    if key_file and key_text is not None:
        raise InvalidInput('Give either encryption_key_file or encryption_key, not both (check '
                           'the KARBOR_ENCRYPTION_KEY_FILE and KARBOR_ENCRYPTION_KEY environment '
                           'variables too).')
    if key_file:
        path = os.path.expanduser(key_file)
        try:
            with open(path, 'rb') as handle:
                raw = handle.read(4096)
        except OSError as exc:
            raise InvalidInput('encryption_key_file %s cannot be read (%s); check the path and '
                               'its permissions.' % (path, exc.strerror or exc))
        key = parse_key(raw, 'encryption_key_file %s' % path)
    elif key_text is not None:
        if not key_text.strip():
            raise InvalidInput('encryption_key is empty; give the base64 key (for example from '
                               'an Ansible Vault variable) or leave the option out.')
        key = parse_key(key_text.encode('utf-8'), 'encryption_key', allow_raw=False)
    else:
        return None
    _require_cryptography()
    return key


class EncryptedBank(Bank):
    """Encrypts values on put and decrypts (and authenticates) them on get.

    Listing, existence and deletion go straight to the wrapped bank
    (``inner``): they use keys only.
    """

    def __init__(self, inner: Bank, key: bytes, label: str = 'this bank') -> None:
        derived = derive_keys(key)
        self.inner = inner
        self.kind = inner.kind
        self.label = label
        self._aead = _require_cryptography().AESGCM(derived.cipher)
        self._chunk_key = derived.chunk_ids
        self._key_id = derived.key_id
        self.key_id = derived.key_id.hex()
        self._prefix = MAGIC + bytes((FORMAT_VERSION,)) + derived.key_id

    # -- what the bank records -------------------------------------------------------------
    def content_digest(self, data: bytes) -> str:
        """The content-addressed name of a chunk: HMAC-SHA256 under a subkey,
        so equal chunks still deduplicate but names reveal nothing."""
        return hmac.new(self._chunk_key, data, hashlib.sha256).hexdigest()

    @property
    def supports_expiry(self) -> bool:  # type: ignore[override]
        return self.inner.supports_expiry

    def seal(self, key: str, data: bytes) -> bytes:
        header = self._prefix + os.urandom(NONCE_SIZE)
        sealed = self._aead.encrypt(header[-NONCE_SIZE:], data,
                                    _AAD_PREFIX + header + key.encode('utf-8'))
        return header + sealed

    def unseal(self, key: str, blob: bytes) -> bytes:
        if not blob.startswith(MAGIC):
            raise BankCorrupted('Bank object %s of %s is not encrypted although the bank is: it '
                                'was written without the key or replaced. Do not restore from '
                                'it.' % (key, self.label), key=key)
        version = blob[len(MAGIC)] if len(blob) > len(MAGIC) else -1
        if version != FORMAT_VERSION:
            raise BankError('Bank object %s of %s uses encryption format %s; this version of '
                            'karbor.protection reads format %d. Upgrade the collection.'
                            % (key, self.label, version, FORMAT_VERSION), key=key)
        if len(blob) < HEADER_SIZE + TAG_SIZE:
            raise BankCorrupted('Bank object %s of %s is truncated (%d bytes).'
                                % (key, self.label, len(blob)), key=key)
        key_id = blob[len(MAGIC) + 1:len(MAGIC) + 1 + KEY_ID_SIZE]
        if key_id != self._key_id:
            raise EncryptionKeyError(
                'Bank objects of %s are encrypted with key id %s; the key given has id %s. Use '
                'the key this bank was written with.' % (self.label, key_id.hex(), self.key_id),
                key=key)
        header = blob[:HEADER_SIZE]
        try:
            # a memoryview: slicing the bytes would copy the whole chunk first
            return self._aead.decrypt(header[-NONCE_SIZE:], memoryview(blob)[HEADER_SIZE:],
                                      _AAD_PREFIX + header + key.encode('utf-8'))
        except _require_cryptography().InvalidTag:
            raise BankCorrupted('Bank object %s of %s fails authentication (AES-GCM): it was '
                                'altered, damaged, or copied from another object. Do not restore '
                                'from it.' % (key, self.label), key=key)

    # -- Bank API --------------------------------------------------------------------------
    def describe(self) -> dict:
        view = dict(self.inner.describe())
        view.update({'encryption': CIPHER, 'key_id': self.key_id})
        return view

    def reset(self) -> None:
        self.inner.reset()

    def put(self, key: str, value: Any, exclusive: bool = False,
            expire_after: int | None = None, digest: str | None = None) -> str:
        """Write the encrypted value; returns the sha256 of the stored ciphertext
        (``digest``, a keyed digest of the plaintext, cannot stand for it)."""
        key = normalize_key(key)
        return self.inner.put(key, self.seal(key, to_bytes(value)), exclusive=exclusive,
                              expire_after=expire_after)

    def claim(self, key: str, value: Any) -> str:
        key = normalize_key(key)
        return self.inner.claim(key, self.seal(key, to_bytes(value)))

    def get(self, key: str) -> bytes:
        """Read, check the ciphertext's sha256, authenticate and decrypt."""
        key = normalize_key(key)
        return self.unseal(key, self.inner.get(key))

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def stat(self, key: str) -> tuple[str, int] | None:
        """The ciphertext's recorded sha256 and size (a copy moves ciphertext as is)."""
        return self.inner.stat(key)

    def backend(self) -> Bank:
        return self.inner.backend()

    def read_stored(self, key: str) -> StoredObject:
        """The ciphertext as stored: a copy moves it as is (``put`` would
        encrypt it again, under a new nonce, and its sha256 would change)."""
        return self.inner.read_stored(key)

    def write_stored(self, key: str, obj: StoredObject) -> None:
        self.inner.write_stored(key, obj)

    def location(self) -> str:
        return self.inner.location()

    def list(self, prefix: str = '/', marker: str | None = None, limit: int | None = None,
             reverse: bool = False) -> list[str]:
        return self.inner.list(prefix, marker=marker, limit=limit, reverse=reverse)


def raw_key_id(blob: bytes) -> str | None:
    """The key id in an encrypted object's header; None for a plain object."""
    if len(blob) >= HEADER_SIZE and blob.startswith(MAGIC):
        return blob[len(MAGIC) + 1:len(MAGIC) + 1 + KEY_ID_SIZE].hex()
    return None


def read_marker(bank: Bank, label: str) -> dict | None:
    try:
        marker = bank.get_json(MARKER_KEY)
    except NotFound:
        return None
    if not isinstance(marker, dict) or not marker.get('key_id'):
        raise BankCorrupted('%s of %s is damaged; it records how the bank is encrypted.'
                            % (MARKER_KEY, label), key=MARKER_KEY)
    return marker


def _check_marker(marker: dict, key_id: str, label: str) -> None:
    if marker.get('cipher') != CIPHER or marker.get('format') != FORMAT_VERSION:
        raise BankError('%s is encrypted with %s format %s; this version of karbor.protection '
                        'uses %s format %d. Upgrade the collection.'
                        % (label, marker.get('cipher'), marker.get('format'), CIPHER,
                           FORMAT_VERSION))
    if marker['key_id'] != key_id:
        raise EncryptionKeyError('Bank objects of %s are encrypted with key id %s; the key given '
                                 'has id %s. Use the key this bank was written with.'
                                 % (label, marker['key_id'], key_id))


def open_bank(bank: Bank, key: bytes | None, label: str,
              probes: tuple[str, ...] = ('/checkpoints/',)) -> Bank:
    """The bank to use for ``key`` (None: no encryption), after checking it
    matches how the bank was written; nothing is changed when it does not.
    ``probes`` are the prefixes whose objects show the bank is in use (a
    provider's checkpoints, the catalog's records).

    First use of a key on an empty bank records the marker (exclusively, so
    two first runs with different keys cannot both win).
    """
    marker = read_marker(bank, label)
    if key is None:
        if marker is not None:
            raise EncryptionKeyError(
                'Bank objects of %s are encrypted with key id %s (%s); no key was given. Set '
                'encryption_key_file or encryption_key (or KARBOR_ENCRYPTION_KEY_FILE) to that '
                'key.' % (label, marker['key_id'], marker.get('cipher', CIPHER)))
        return bank
    encrypted = EncryptedBank(bank, key, label)
    if marker is not None:
        _check_marker(marker, encrypted.key_id, label)
        return encrypted
    existing = next((found for prefix in probes for found in bank.list(prefix, limit=1)), None)
    if existing:
        # A bank with checkpoints but no marker: encrypted ones whose marker
        # was lost are recognised by their header; plain ones are not mixed.
        try:
            found = raw_key_id(bank.get(existing))
        except NotFound:
            found = None
        if found is None:
            raise EncryptionKeyError(
                '%s already holds unencrypted %s; encryption cannot be turned on for '
                'it (a bank is either encrypted or not). Use a new bank for encrypted '
                'checkpoints (a provider file with another bank_swift_object_container or '
                'file_system_bank_path), or leave the key out for this one.'
                % (label, 'checkpoints' if existing.startswith('/checkpoints/') else
                   'records (%s)' % existing))
        if found != encrypted.key_id:
            raise EncryptionKeyError('Bank objects of %s are encrypted with key id %s; the key '
                                     'given has id %s. Use the key this bank was written with.'
                                     % (label, found, encrypted.key_id))
    record = {'format': FORMAT_VERSION, 'cipher': CIPHER, 'key_id': encrypted.key_id,
              'kdf': 'HKDF-SHA256', 'chunk_ids': 'HMAC-SHA256'}
    try:
        bank.claim(MARKER_KEY, json.dumps(record, sort_keys=True))
    except Conflict:
        marker = read_marker(bank, label)
        if marker is None:
            raise KarborError('%s changed while its encryption marker was written; run again.'
                              % label)
        _check_marker(marker, encrypted.key_id, label)
    return encrypted
