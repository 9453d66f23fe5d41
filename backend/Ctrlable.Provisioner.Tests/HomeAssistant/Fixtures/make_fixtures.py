#!/usr/bin/env python3
"""Writes the Supervisor backup fixtures of BackupArchiveTests, independently of the C# code under test:
base-plain.tar (unencrypted) and base-encrypted.tar (SecureTar v2, key "base-backup-key"), made the way
Supervisor makes them (outer tar: ./backup.json + ./homeassistant.tar.gz; inner: ./homeassistant.json + data/)."""
import gzip, hashlib, io, json, os, sys, tarfile
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BASE_UUID = "0123456789abcdef0123456789abcdef"
KEY = "base-backup-key"

def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1767225600
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))

def inner():
    auth = {"version": 1, "minor_version": 1, "key": "auth", "data": {
        "users": [{"id": "owner1", "group_ids": ["system-admin"], "is_owner": True, "is_active": True, "name": "Base", "system_generated": False, "local_only": False},
                  {"id": "super1", "group_ids": ["system-admin"], "is_owner": False, "is_active": True, "name": "Supervisor", "system_generated": True, "local_only": False}],
        "groups": [{"id": "system-admin", "name": "Administrators"}],
        "credentials": [{"id": "cred1", "user_id": "owner1", "auth_provider_type": "homeassistant", "auth_provider_id": None, "data": {"username": "base"}}],
        "refresh_tokens": [
            {"id": "rt-session", "user_id": "owner1", "client_id": "http://base/", "token_type": "normal", "token": "a" * 128, "jwt_key": "b" * 128},
            {"id": "rt-llat", "user_id": "owner1", "client_id": None, "client_name": "base tool", "token_type": "long_lived_access_token", "token": "c" * 128, "jwt_key": "d" * 128},
            {"id": "rt-system", "user_id": "super1", "client_id": None, "token_type": "system", "token": "e" * 128, "jwt_key": "f" * 128}]}}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "./homeassistant.json", json.dumps({"version": "2026.6.0", "port": 8123}).encode())
        add(tar, "data/.storage/core.uuid", json.dumps({"version": 1, "minor_version": 1, "key": "core.uuid", "data": {"uuid": BASE_UUID}}).encode())
        add(tar, "data/.storage/auth", json.dumps(auth).encode())
        add(tar, "data/configuration.yaml", b"default_config:\n")
    return gzip.compress(raw.getvalue(), mtime=0)

def secure_tar_v2(plain, password):
    key = password.encode()
    for _ in range(100):
        key = hashlib.sha256(key).digest()
    key = key[:16]
    seed = os.urandom(16)
    iv = key + seed
    for _ in range(100):
        iv = hashlib.sha256(iv).digest()
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv[:16])).encryptor()
    body = enc.update(padder.update(plain) + padder.finalize()) + enc.finalize()
    return b"SecureTar\x02" + b"\x00" * 6 + len(plain).to_bytes(8, "big") + b"\x00" * 8 + seed + body

def outer(path, encrypted):
    part = inner()
    if encrypted:
        part = secure_tar_v2(part, KEY)
    meta = {"slug": "c7a1b2d3", "name": "Ctrlable base 2026.06", "date": "2026-06-01T00:00:00+00:00", "type": "partial",
            "supervisor_version": "2026.06.0", "compressed": True, "protected": encrypted,
            "homeassistant": {"version": "2026.6.0", "exclude_database": False, "size": 0.01},
            "folders": [], "addons": [], "repositories": [], "extra": {"instance_id": BASE_UUID}}
    if encrypted:
        meta["crypto"] = "aes128"
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "./backup.json", json.dumps(meta, indent=2).encode())
        add(tar, "./homeassistant.tar.gz", part)

here = os.path.dirname(os.path.abspath(sys.argv[0]))
outer(os.path.join(here, "base-plain.tar"), False)
outer(os.path.join(here, "base-encrypted.tar"), True)
