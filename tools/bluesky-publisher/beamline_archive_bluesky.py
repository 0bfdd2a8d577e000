"""Publish Bluesky documents to the beamline archive's Redis stream.

Subscribe one publisher to a RunEngine and every document it emits (start, descriptor, event,
event_page, stop, and any other kind) becomes one entry of a Redis stream, which the
beamline-archive bridge follows (``--bluesky-stream``) exactly like BLISS scans::

    from bluesky import RunEngine
    from beamline_archive_bluesky import RedisDocumentPublisher

    RE = RunEngine({})
    RE.subscribe(RedisDocumentPublisher("redis://beamline-redis:6379"))

Stream format (docs/bluesky.md is the reference):

* one ``XADD`` per document, in the order the RunEngine emits them, with two fields:
  ``name`` (the document name: ``start``, ``descriptor``, ``event``, ``event_page``, ``stop`` …)
  and ``doc`` (the document as UTF-8 JSON);
* numpy arrays become nested lists and numpy scalars plain numbers (``tolist()``/``item()``): a
  float64 is written with Python's shortest round-trip repr, so it parses back bit for bit;
* JSON has no NaN or infinity: a non-finite float is written as the object
  ``{"$float": "nan"}`` / ``{"$float": "inf"}`` / ``{"$float": "-inf"}`` (a NaN's payload bits
  are not kept); tuples become lists; any other object is refused (``TypeError``), never
  written as its ``str()``;
* an ``event_page`` whose JSON exceeds ``max_entry_bytes`` (default 8 MiB) is split into
  consecutive pages of fewer events (same descriptor, the seq_nums stay in order); a single
  event (or any other document) larger than that raises ``DocumentTooLargeError`` naming the
  document, which makes the RunEngine abort the run rather than lose data silently. Large
  detector images belong in files (``resource``/``datum`` or ``stream_resource`` documents),
  not in the stream;
* ``maxlen`` (optional) trims the stream approximately (``XADD MAXLEN ~``); it must stay well
  above the entries of the longest run, or a bridge restarted mid-run cannot re-read the run
  (docs/bluesky.md, "Trimming").

The only dependencies are ``redis`` (redis-py) and, when documents hold numpy values, ``numpy``.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable, Mapping, Optional, Union

__all__ = ["RedisDocumentPublisher", "DocumentTooLargeError", "encode_document", "decode_document", "DEFAULT_STREAM"]

DEFAULT_STREAM = "bluesky:documents"
DEFAULT_MAX_ENTRY_BYTES = 8 * 1024 * 1024
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class DocumentTooLargeError(ValueError):
    """A document is larger than one stream entry may be; names the document so it can be found."""

    def __init__(self, name: str, doc: Mapping[str, Any], size: int, limit: int):
        where = f"uid {doc.get('uid')!r}"
        if "seq_num" in doc:
            where += f", descriptor {doc.get('descriptor')!r}, seq_num {doc.get('seq_num')!r}"
        super().__init__(f"{name} document ({where}) is {size} bytes of JSON, more than max_entry_bytes={limit}; "
                         "put large arrays in files (resource/datum) or raise max_entry_bytes")
        self.name = name
        self.size = size


def _plain(value: Any) -> Any:
    """Converts numpy values and tuples to JSON types, exactly; non-finite floats to tagged objects."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"document key {k!r} is not a string")
            out[k] = _plain(v)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy arrays and numpy scalars
    if callable(tolist) and hasattr(value, "dtype"):
        kind = value.dtype.kind
        if kind not in "biufcUSO?":
            raise TypeError(f"numpy dtype {value.dtype} cannot be published")
        if kind == "c":
            raise TypeError("complex values cannot be published as JSON numbers")
        return _plain(tolist())
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON data")


def encode_document(doc: Mapping[str, Any]) -> str:
    """The ``doc`` field of a stream entry: compact JSON, NaN/inf tagged, numpy converted."""
    return json.dumps(_plain(doc), separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _restore(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$float" in value and value["$float"] in _NON_FINITE:
            return _NON_FINITE[value["$float"]]
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


def decode_document(text: Union[str, bytes]) -> Any:
    """Inverse of encode_document (for consumers written in Python and for tests)."""
    return _restore(json.loads(text))


def _split_page(page: Mapping[str, Any], parts: int) -> list:
    """An event_page cut into `parts` consecutive pages (columns sliced alike)."""
    n = len(page["seq_num"])
    size = max(1, math.ceil(n / parts))
    pages = []
    for lo in range(0, n, size):
        hi = min(n, lo + size)
        sub = {}
        for key, value in page.items():
            if key in ("data", "timestamps", "filled"):
                sub[key] = {k: v[lo:hi] for k, v in value.items()}
            elif key in ("seq_num", "time", "uid"):
                sub[key] = value[lo:hi]
            else:
                sub[key] = value
        pages.append(sub)
    return pages


class RedisDocumentPublisher:
    """A RunEngine callback: ``RE.subscribe(RedisDocumentPublisher("redis://host:6379"))``.

    ``redis_url_or_client``: a ``redis://`` URL or a redis-py client (``redis.Redis``).
    ``stream``: the stream key (default ``bluesky:documents``).
    ``maxlen``: approximate trimming of the stream (None: never trimmed by the publisher).
    ``max_entry_bytes``: largest ``doc`` field written; event pages above it are split.
    """

    def __init__(self, redis_url_or_client: Any, stream: str = DEFAULT_STREAM, maxlen: Optional[int] = None,
                 max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES):
        if isinstance(redis_url_or_client, str):
            import redis  # imported here so that encode/decode work without redis-py

            self._client = redis.Redis.from_url(redis_url_or_client)
        else:
            self._client = redis_url_or_client
        if not stream:
            raise ValueError("stream must be a non-empty Redis key")
        if maxlen is not None and maxlen < 1:
            raise ValueError("maxlen must be a positive number of entries or None")
        self.stream = stream
        self.maxlen = maxlen
        self.max_entry_bytes = max_entry_bytes
        self.entries = 0

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None:
        for text in self._texts(name, doc):
            kwargs = {"maxlen": self.maxlen, "approximate": True} if self.maxlen is not None else {}
            self._client.xadd(self.stream, {"name": name, "doc": text}, **kwargs)
            self.entries += 1

    def _texts(self, name: str, doc: Mapping[str, Any]) -> list:
        text = encode_document(doc)
        size = len(text.encode("utf-8"))
        if size <= self.max_entry_bytes:
            return [text]
        if name == "event_page" and len(doc.get("seq_num", [])) > 1:
            parts = math.ceil(size / self.max_entry_bytes) + 1
            out = []
            for page in _split_page(doc, parts):
                out.extend(self._texts(name, page))
            return out
        raise DocumentTooLargeError(name, doc, size, self.max_entry_bytes)


def publisher_from_env(env: Optional[Mapping[str, str]] = None) -> Callable[[str, Mapping[str, Any]], None]:
    """A publisher configured by BLUESKY_REDIS_URL and BLUESKY_STREAM (for profile startup files)."""
    import os

    env = os.environ if env is None else env
    url = env.get("BLUESKY_REDIS_URL")
    if not url:
        raise RuntimeError("BLUESKY_REDIS_URL is not set (e.g. redis://localhost:6379)")
    return RedisDocumentPublisher(url, env.get("BLUESKY_STREAM", DEFAULT_STREAM))
