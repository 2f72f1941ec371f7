"""seed_edms: fill a migrated database with deterministic EDMS data from a seed.

The same seed always produces the same rows (ids aside): users and groups with permissions, a
folder tree (the same name under different parents, deep chains), documents with versions
(empty and binary contents), tags, workflows and transitions (equal keyless rows repeated),
signatures, and an audit trail pointing at documents, versions and workflows through the
GenericForeignKey — with Unicode, NULLs and JSON throughout. A few hundred rows.

Timestamps are whole milliseconds: dumpdata writes milliseconds, so finer values would not survive
a fixture round trip.
"""
import datetime
import hashlib
import random

from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.models import AuditEntry
from documents.models import Document, DocumentType, DocumentVersion, Folder, Tag
from signatures.models import Signature
from workflows.models import Transition, Workflow

EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)

FIRST = ["Anna", "Zoë", "José", "Łukasz", "Søren", "Chloé", "Mehmet", "Ольга", "李", "Ngozi", "Aoife", "O'Brien"]
LAST = ["Müller", "Ødegård", "García", "Kowalski", "Nguyễn", "Смирнова", "王", "Ó Súilleabháin", "Smith", ""]
DOCUMENT_TYPES = [
    ("contract", "Contract", 3650, False),
    ("invoice", "Invoice", 2555, False),
    ("report", "Report", None, True),
    ("memo", "Memo — internal", None, False),
    ("sop", "Standard operating procedure", 1825, False),
]
TAGS = [
    ("urgent", "#ff0000"), ("finance", "#00aa00"), ("legal", None), ("тег", "#123456"),
    ("🚀 launch", "#abcdef"), ("draft", None), ("Ärger", "#000000"), ("q1-2024", "#808081"),
]
GROUPS = {
    "Editors": ["add_document", "change_document", "add_documentversion", "view_folder"],
    "Reviewers": ["view_document", "view_documentversion", "add_signature", "change_workflow"],
    "Archivists": ["view_document", "delete_document", "change_folder"],
    "Gäste ✓": ["view_document"],
}
WORKFLOW_TYPES = ["review", "approval", "archival"]
STATES = ["draft", "in_review", "approved", "rejected", "archived"]
MEANINGS = ["authored", "reviewed", "approved"]
MIMES = ["application/pdf", "text/plain; charset=utf-8", "image/png", "application/octet-stream"]
ACTIONS = ["create", "update", "view", "download", "sign", "transition", "login"]


class Command(BaseCommand):
    help = "Fill a migrated database with deterministic EDMS data from --seed (a few hundred rows)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--documents", type=int, default=24, help="number of documents (default 24)")

    def handle(self, *args, **opts):
        seed, ndocs = opts["seed"], opts["documents"]
        if ndocs < 4:
            raise CommandError("--documents must be at least 4")
        if Document.objects.exists() or User.objects.exists():
            raise CommandError("seed_edms: the database already holds users or documents")
        rnd = random.Random(seed)
        with transaction.atomic():
            counts = Seeder(rnd, ndocs).run()
        total = sum(counts.values())
        self.stdout.write("seed %d: %d rows (%s)" % (seed, total, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))


class Seeder:
    def __init__(self, rnd, ndocs):
        self.rnd = rnd
        self.ndocs = ndocs
        self.counts = {}

    def count(self, name, n=1):
        self.counts[name] = self.counts.get(name, 0) + n

    def when(self, after=None, span=400 * 24 * 3600):
        base = after or EPOCH
        ms = self.rnd.randrange(0, span * 1000)
        if self.rnd.random() < 0.5:
            ms -= ms % 1000  # whole seconds half of the time
        return base + datetime.timedelta(milliseconds=ms)

    def maybe(self, pct, value):
        return value if self.rnd.random() * 100 < pct else None

    def blob(self, n):
        return bytes(self.rnd.getrandbits(8) for _ in range(n))

    def run(self):
        self.people()
        self.types_and_tags()
        self.folders()
        self.documents()
        self.workflows()
        self.signatures()
        self.audit()
        return self.counts

    def people(self):
        rnd = self.rnd
        perms = {p.codename: p for p in Permission.objects.all()}
        self.groups = []
        for name, codenames in GROUPS.items():
            g = Group.objects.create(name=name)
            g.permissions.set([perms[c] for c in codenames])
            self.groups.append(g)
            self.count("auth_group")
            self.count("auth_group_permissions", len(codenames))
        self.users = []
        admin = User(username="admin", password="!admin-unusable", is_superuser=True, is_staff=True,
                     is_active=True, email="admin@example.org", date_joined=EPOCH, last_login=None)
        admin.save()
        self.users.append(admin)
        names = ["zoë", "李雷", "o'brien", "user.with.dots", "jane", "ivan", "søren", "ngozi", "bob", "ömer"]
        for i, uname in enumerate(names):
            u = User(
                username=uname,
                password="!%016x" % rnd.getrandbits(64),
                is_superuser=False,
                is_staff=rnd.random() < 0.3,
                is_active=rnd.random() < 0.9,
                first_name=rnd.choice(FIRST),
                last_name=rnd.choice(LAST),
                email="" if i % 4 == 3 else "%s@example.org" % "u%d" % i,
                date_joined=self.when(),
                last_login=self.maybe(60, self.when()),
            )
            u.save()
            self.users.append(u)
        self.count("auth_user", len(self.users))
        for u in self.users[1:]:
            gs = rnd.sample(self.groups, rnd.randrange(0, 3))
            u.groups.set(gs)
            self.count("auth_user_groups", len(gs))
        extra = rnd.sample(sorted(perms), 5)
        for u in self.users[1:4]:
            ps = [perms[c] for c in rnd.sample(extra, 2)]
            u.user_permissions.set(ps)
            self.count("auth_user_user_permissions", len(ps))

    def user(self, null_pct=0):
        if null_pct and self.rnd.random() * 100 < null_pct:
            return None
        return self.rnd.choice(self.users)

    def types_and_tags(self):
        self.types = [
            DocumentType.objects.create(name=n, label=l, retention_days=r, is_default=d) for n, l, r, d in DOCUMENT_TYPES
        ]
        self.count("documents_documenttype", len(self.types))
        self.tags = []
        for name, color in TAGS:
            t = Tag(name=name)
            if color:
                t.color = color
            t.save()
            self.tags.append(t)
        self.count("documents_tag", len(self.tags))

    def folders(self):
        self.folder_list = []

        def mk(parent, name):
            f = Folder.objects.create(parent=parent, name=name, created_by=self.user(30), created_at=self.when())
            self.folder_list.append(f)
            self.count("documents_folder")
            return f

        archive = mk(None, "Archive")
        projects = mk(None, "Projects")
        mk(None, "Inbox")
        mk(None, "Ünïcødé — 文件夹")
        for year in ("2023", "2024"):
            y = mk(archive, year)
            for q in ("Q1", "Q2"):
                mk(y, q)
        # The same names under other parents: only the path tells them apart.
        mk(projects, "Archive")
        alpha = mk(projects, "Alpha")
        beta = mk(projects, "Beta")
        mk(beta, "2023")
        node = alpha
        for depth in range(6):
            node = mk(node, "level %d" % depth)
        mk(node, "Q1")

    def documents(self):
        rnd = self.rnd
        self.docs, self.versions = [], []
        for i in range(self.ndocs):
            created = self.when()
            meta_choices = [
                {},
                {"department": rnd.choice(["R&D", "Ventes", "法务"]), "pages": rnd.randrange(1, 300)},
                {"nested": {"list": [1, "two", None, True, 3.5], "empty": {}}, "ünïcode": "✓"},
                {"reference": None, "amount": rnd.randrange(0, 10**6) / 100, "ids": [rnd.randrange(100) for _ in range(3)]},
            ]
            d = Document.objects.create(
                document_number="DOC-%04d" % (i + 1),
                title=rnd.choice(["Contract", "Rapport annuel", "Überblick", "Отчёт", "報告書", "Memo \"quoted\"\ttab"]) + " %d" % (i + 1),
                description=self.maybe(70, "Description of document %d — línea 2\nline 3" % (i + 1)),
                document_type=rnd.choice(self.types),
                folder=None if i % 5 == 4 else rnd.choice(self.folder_list),
                owner=self.user(),
                metadata=meta_choices[i % len(meta_choices)],
                created_at=created,
                updated_at=self.when(created, 30 * 24 * 3600),
            )
            self.docs.append(d)
            self.count("documents_document")
            tags = rnd.sample(self.tags, rnd.randrange(0, 4))
            d.tags.set(tags)
            self.count("documents_document_tags", len(tags))
            versions = []
            for n in range(1, rnd.randrange(1, 4) + 1):
                size = 0 if (i + n) % 7 == 0 else rnd.randrange(1, 600)
                content = self.blob(size)
                v = DocumentVersion.objects.create(
                    document=d,
                    version_number=n,
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                    mime_type=rnd.choice(MIMES),
                    size=size,
                    comment=rnd.choice(["", "", "fixed typos", "révision — ✓"]),
                    created_by=self.user(20),
                    created_at=self.when(created, 60 * 24 * 3600),
                )
                versions.append(v)
                self.count("documents_documentversion")
            self.versions.extend(versions)
            # Most documents point at their latest version; some at an older one; some at none.
            if i % 6 == 5:
                pass
            elif i % 6 == 4 and len(versions) > 1:
                d.current_version = versions[0]
                d.save(update_fields=["current_version"])
            else:
                d.current_version = versions[-1]
                d.save(update_fields=["current_version"])

    def workflows(self):
        rnd = self.rnd
        self.workflow_list = []
        for d in self.docs:
            for wt in rnd.sample(WORKFLOW_TYPES, rnd.randrange(1, 3)):
                started = self.when(d.created_at, 10 * 24 * 3600)
                w = Workflow.objects.create(
                    document=d,
                    workflow_type=wt,
                    state=rnd.choice(STATES),
                    started_by=self.user(25),
                    started_at=started,
                    completed_at=self.maybe(50, self.when(started, 20 * 24 * 3600)),
                )
                self.workflow_list.append(w)
                self.count("workflows_workflow")
                state = "draft"
                # The first workflow always has transitions, one of them recorded twice.
                first = len(self.workflow_list) == 1
                for k in range(rnd.randrange(2 if first else 0, 5)):
                    to = rnd.choice(STATES)
                    t = Transition.objects.create(
                        workflow=w, from_state=state, to_state=to, actor=self.user(30),
                        comment=rnd.choice(["", "ok", "bitte prüfen", "见附件"]), created_at=self.when(started, 20 * 24 * 3600),
                    )
                    self.count("workflows_transition")
                    state = to
                    if (first and k == 0) or rnd.random() < 0.15:
                        # An equal keyless row: a double click recorded twice.
                        Transition.objects.create(
                            workflow=w, from_state=t.from_state, to_state=t.to_state, actor=t.actor,
                            comment=t.comment, created_at=t.created_at,
                        )
                        self.count("workflows_transition")

    def signatures(self):
        rnd = self.rnd
        n = 0
        for i, v in enumerate(self.versions):
            # The first version is always signed twice, the first signature empty.
            if i > 0 and rnd.random() < 0.6:
                continue
            for signer, meaning in zip(rnd.sample(self.users, 2), rnd.sample(MEANINGS, 2)):
                if i > 0 and rnd.random() < 0.5:
                    continue
                empty = n == 0 or rnd.random() < 0.15
                Signature.objects.create(
                    version=v, signer=signer, meaning=meaning, signed_at=self.when(v.created_at, 5 * 24 * 3600),
                    signature=b"" if empty else self.blob(rnd.randrange(16, 96)),
                )
                n += 1
                self.count("signatures_signature")

    def audit(self):
        rnd = self.rnd
        targets = (
            [(ContentType.objects.get_for_model(Document), d.pk) for d in self.docs]
            + [(ContentType.objects.get_for_model(DocumentVersion), v.pk) for v in self.versions]
            + [(ContentType.objects.get_for_model(Workflow), w.pk) for w in self.workflow_list]
        )
        addrs = [None, "192.0.2.17", "10.0.0.1", "2001:db8::1", "::1", "198.51.100.250"]
        for i in range(len(targets) // 2 + 20):
            # The first entries are fixed edge cases: an event about no object, without an
            # address, then one about an object recorded twice.
            if i == 0 or rnd.random() < 0.1:
                ct, oid = None, None  # a system event about no object
                action = "login"
            else:
                ct, oid = rnd.choice(targets)
                action = rnd.choice(ACTIONS[:-1])
            e = AuditEntry.objects.create(
                content_type=ct, object_id=oid, action=action, actor=self.user(15), timestamp=self.when(),
                changes=rnd.choice([None, {}, {"title": ["old", "new ✓"]}, {"state": {"from": "draft", "to": "approved"}, "n": 2}]),
                remote_addr=None if i == 0 else rnd.choice(addrs),
            )
            self.count("audit_auditentry")
            if i == 1 or rnd.random() < 0.1:
                AuditEntry.objects.create(
                    content_type=e.content_type, object_id=e.object_id, action=e.action, actor=e.actor,
                    timestamp=e.timestamp, changes=e.changes, remote_addr=e.remote_addr,
                )
                self.count("audit_auditentry")
