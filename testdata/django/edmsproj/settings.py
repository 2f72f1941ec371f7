"""Settings of the EDMS test project: a Django project whose models mirror the EDMS schema
(fixtures/edms/schema.sql), used to prove edmsdr against real Django migrate, dumpdata and loaddata.

The database comes from DATABASE_URL (postgres://user:password@host:port/name) or from the
EDMS_DB_NAME, EDMS_DB_USER, EDMS_DB_PASSWORD, EDMS_DB_HOST and EDMS_DB_PORT variables (unset parts
fall back to libpq's PG* variables and defaults).
"""
import os
from urllib.parse import unquote, urlsplit, parse_qs

SECRET_KEY = "edmsdr-test-project-not-secret"
DEBUG = False
ALLOWED_HOSTS = []
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "documents",
    "workflows",
    "signatures",
    "audit",
    "library",
]


def _database():
    url = os.environ.get("DATABASE_URL", "")
    if url:
        u = urlsplit(url)
        if u.scheme not in ("postgres", "postgresql"):
            raise ValueError("DATABASE_URL: scheme must be postgres or postgresql")
        db = {
            "NAME": unquote(u.path.lstrip("/")),
            "USER": unquote(u.username or ""),
            "PASSWORD": unquote(u.password or ""),
            "HOST": u.hostname or "",
            "PORT": str(u.port or ""),
        }
        options = {k: v[-1] for k, v in parse_qs(u.query).items()}
        # A host given as ?host=/socket/dir (libpq's form for Unix sockets).
        if "host" in options and not db["HOST"]:
            db["HOST"] = options.pop("host")
        if options:
            db["OPTIONS"] = options
    else:
        db = {
            "NAME": os.environ.get("EDMS_DB_NAME", os.environ.get("PGDATABASE", "edms")),
            "USER": os.environ.get("EDMS_DB_USER", ""),
            "PASSWORD": os.environ.get("EDMS_DB_PASSWORD", ""),
            "HOST": os.environ.get("EDMS_DB_HOST", ""),
            "PORT": os.environ.get("EDMS_DB_PORT", ""),
        }
    db["ENGINE"] = "django.db.backends.postgresql"
    return db


DATABASES = {"default": _database()}
