"""shift_ids: make a freshly migrated database hand out other ids than the one it mirrors.

Moves every sequence of the public schema forward by --by, then deletes the content types and
permissions migrate created and runs migrate again, which re-creates them under the new ids.
This plays a re-initialised install: same seeded rows, other ids. Refuses a database holding
anything that references those rows.
"""
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

REFERENCING = [
    "auth_group_permissions",
    "auth_user_user_permissions",
    "audit_auditentry",
]


class Command(BaseCommand):
    help = "Move every sequence forward and re-create content types and permissions under new ids."

    def add_arguments(self, parser):
        parser.add_argument("--by", type=int, default=1000, help="how far to move each sequence (default 1000)")

    def handle(self, *args, **opts):
        by = opts["by"]
        if by < 1:
            raise CommandError("--by must be positive")
        with transaction.atomic(), connection.cursor() as c:
            for table in REFERENCING:
                c.execute("SELECT EXISTS (SELECT 1 FROM %s)" % connection.ops.quote_name(table))
                if c.fetchone()[0]:
                    raise CommandError("shift_ids: %s is not empty; run it on a freshly migrated database" % table)
            c.execute(
                "SELECT c.oid::regclass::text FROM pg_class c "
                "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace ORDER BY 1"
            )
            seqs = [r[0] for r in c.fetchall()]
            for s in seqs:
                c.execute("SELECT setval(%s::regclass, COALESCE(pg_sequence_last_value(%s::regclass), 0) + %s)", [s, s, by])
            c.execute("DELETE FROM auth_permission")
            c.execute("DELETE FROM django_content_type")
        ContentType.objects.clear_cache()
        call_command("migrate", verbosity=0, interactive=False)
        self.stdout.write("moved %d sequences by %d; content types and permissions re-created" % (len(seqs), by))
