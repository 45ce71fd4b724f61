"""API keys for online services (an OpenAI-compatible chat endpoint), kept out of
workflow files.

A key belongs to a base URL: it is stored in the OS keyring (service ``reelgraph``,
one entry per base URL) and looked up by the node that calls that URL, so a shared
workflow never carries it and a workflow pointing at another server never gets it.

Where the OS has no keyring (a headless Linux box, a container), keys come from the
environment variable ``REELGRAPH_API_KEY`` (only for the base URL named in
``REELGRAPH_API_URL``) and then from ``api_keys.json`` in the
user data folder, a file only its owner may read (0600). Every such fallback is
logged as a warning, so nobody believes a key is in the keyring when it is not.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nodes.atomic_write import write_atomically

log = logging.getLogger("reelgraph.credentials")

SERVICE = "reelgraph"
ENVIRONMENT_VARIABLE = "REELGRAPH_API_KEY"
#: The one base URL the key in ``REELGRAPH_API_KEY`` is offered to. Without it the
#: variable is ignored: a shared workflow could otherwise name its own server and
#: collect the key.
ENVIRONMENT_URL_VARIABLE = "REELGRAPH_API_URL"
FILE_NAME = "api_keys.json"
FILE_FORMAT = "reelgraph.api_keys"

_file_lock = threading.Lock()


class CredentialError(Exception):
    """A key that cannot be stored; the message says where it tried and why."""


def entry_name(base_url: str) -> str:
    """The one name a base URL's key is filed under: scheme and host in lower case,
    no trailing slash, so ``HTTPS://api.example.com/v1/`` finds ``https://api.example.com/v1``."""
    text = base_url.strip()
    parts = urlsplit(text)
    if parts.scheme and parts.netloc:
        text = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))
    return text.rstrip("/")


def key_file() -> Path:
    from nodes.user_folders import data_folder

    return data_folder() / FILE_NAME


def store_api_key(base_url: str, key: str) -> str:
    """Keep ``key`` for ``base_url``; returns where it went, in words for the creator.

    The OS keyring when there is one; otherwise the key file (0600), with a warning.
    """
    name = entry_name(base_url)
    if not name:
        raise CredentialError("an API key needs the base URL it belongs to")
    if not key.strip():
        raise CredentialError(f"the API key for {name} is empty")
    keyring = _keyring_module()
    if keyring is not None:
        try:
            keyring.set_password(SERVICE, name, key.strip())
        except Exception as error:  # no backend, a locked or broken one: all mean "not here"
            log.warning("the OS keyring cannot store the API key for %s (%s); storing it in %s instead, "
                        "a file only you can read. Install a keyring (GNOME Keyring, KWallet) to keep it "
                        "encrypted.", name, _describe(error), key_file())
        else:
            return "the OS keyring"
    else:
        log.warning("the keyring package is not installed; storing the API key for %s in %s, a file only "
                    "you can read", name, key_file())
    _write_file_entry(name, key.strip())
    return str(key_file())


def forget_api_key(base_url: str) -> None:
    """Remove the key for ``base_url`` from the keyring and the key file (if there)."""
    name = entry_name(base_url)
    keyring = _keyring_module()
    if keyring is not None:
        try:
            keyring.delete_password(SERVICE, name)
        except Exception:  # not stored there, or no keyring: nothing to remove
            pass
    _write_file_entry(name, None)


def api_key_for(base_url: str) -> str | None:
    """The key stored for ``base_url``, or None: the OS keyring first, then
    ``REELGRAPH_API_KEY``, then the key file."""
    name = entry_name(base_url)
    keyring = _keyring_module()
    if keyring is not None:
        try:
            key = keyring.get_password(SERVICE, name)
        except Exception as error:
            log.warning("no usable OS keyring (%s); looking for the API key for %s in the environment "
                        "variable %s and then in %s", _describe(error), name, ENVIRONMENT_VARIABLE, key_file())
        else:
            if key:
                return key
    key = _environment_key(name)
    if key:
        return key
    return _read_file_keys().get(name)


def _environment_key(name: str) -> str | None:
    key = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not key:
        return None
    pinned = os.environ.get(ENVIRONMENT_URL_VARIABLE, "").strip()
    if not pinned:
        log.warning("%s is set but %s is not, so the key is not offered to %s; set %s to the endpoint's "
                    "base URL", ENVIRONMENT_VARIABLE, ENVIRONMENT_URL_VARIABLE, name, ENVIRONMENT_URL_VARIABLE)
        return None
    if entry_name(pinned) != name:
        return None
    log.warning("using the API key from the environment variable %s for %s", ENVIRONMENT_VARIABLE, name)
    return key


def _keyring_module() -> Any:
    try:
        import keyring
    except ImportError:
        return None
    return keyring


def _describe(error: BaseException) -> str:
    """The kind of failure only: a keyring's message might quote what it was given."""
    return f"{type(error).__name__}: {str(error).splitlines()[0][:160]}" if str(error) else type(error).__name__


def _read_file_keys() -> dict[str, str]:
    path = key_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        log.warning("cannot read the API key file %s: %s", path, error.strerror or error)
        return {}
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the API key file %s can be read by other users; make it private with: chmod 600 %s",
                    path, path)
    try:
        document = json.loads(text)
        keys = document["keys"] if isinstance(document, dict) and document.get("format") == FILE_FORMAT else None
    except (ValueError, KeyError):
        keys = None
    if not isinstance(keys, dict):
        log.warning("the API key file %s is damaged; it is ignored until a key is stored again", path)
        return {}
    return {str(name): value for name, value in keys.items() if isinstance(value, str)}


def _write_file_entry(name: str, key: str | None) -> None:
    path = key_file()
    with _file_lock:
        keys = _read_file_keys()
        if key is None:
            if name not in keys:
                return
            keys.pop(name)
        else:
            keys[name] = key
        document = {"format": FILE_FORMAT, "version": 1, "keys": keys}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8"))
            os.chmod(path, 0o600)  # mkstemp already made it 0600; say so for every platform that listens
        except OSError as error:
            raise CredentialError(f"cannot write the API key file {path}: {error.strerror or error}") from None
