"""SQLAlchemy engines with errors that name the (password-masked) URL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from e2e_assets.bounded_cache import BoundedCache
from e2e_assets.errors import InfrastructureError, SpecError


def url_backend(url: str) -> str:
    """The database kind a URL names: 'postgresql+psycopg://...' -> 'postgresql'."""
    return url.split(":", 1)[0].split("+", 1)[0].lower()


def masked(url: str) -> str:
    """The URL with any password hidden, for messages and metadata."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it that could be a secret
        return "<unparseable URL>"


# One pooled engine per URL, shared; the 32 most recently used are kept. An engine dropped from
# them is disposed (its pooled connections closed), never left to the garbage collector with
# connections open, which a long-lived process (a webserver, a test session) touching many
# databases would otherwise accumulate. Bounded by entries only (an engine counts 0 bytes).
_ENGINES: BoundedCache[sa.Engine] = BoundedCache(max_entries=32, max_bytes=0, size=lambda _: 0,
                                                 on_evict=lambda engine: engine.dispose())


def engine_for(url: str) -> sa.Engine:
    """The shared engine for ``url`` (see ``_ENGINES``)."""
    engine = _ENGINES.get(url)
    if engine is None:
        made = _new_engine(url)
        engine = _ENGINES.setdefault(url, made)
        if engine is not made:  # another thread made one meanwhile: use it
            made.dispose()
    return engine


def forget_engine(url: str) -> None:
    """Close the shared engine's connections to ``url`` (before the database is dropped)."""
    engine = _ENGINES.pop(url)
    if engine is not None:
        engine.dispose()


def _new_engine(url: str) -> sa.Engine:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise SpecError(f"not a SQLAlchemy URL: {url!r} (expected e.g. "
                        f"'sqlite:///path.db' or 'postgresql+psycopg://user@host/db')") from exc
    kwargs: dict[str, object] = {}
    if parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        return sa.create_engine(parsed, **kwargs)
    except Exception as exc:  # missing driver and similar
        raise InfrastructureError(f"cannot create a database engine for {masked(url)}: "
                                  f"{exc}") from exc


def reason(exc: BaseException) -> str:
    """The driver's own message (first line), without SQLAlchemy's wrapping."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def check_reachable(url: str, purpose: str) -> None:
    """Open and close one connection; raise InfrastructureError saying what it was for."""
    try:
        with engine_for(url).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except (SpecError, InfrastructureError):
        raise
    except Exception as exc:
        raise InfrastructureError(f"cannot reach the database for {purpose} at {masked(url)}: "
                                  f"{reason(exc)}") from exc
