"""seed_library: fill the library app of a migrated database with deterministic rows from a seed.

A section tree three levels deep with one name under two parents, shelves numbered per section
(the same numbers everywhere), volumes coded per shelf (the same codes everywhere), topics
(many-to-many to sections) and loans. Timestamps are whole milliseconds, as dumpdata writes them.
"""
import datetime
import random

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from library.models import Loan, Section, Shelf, Volume

EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
TREE = {
    "Fiction": {"Classics": {"Greek": {}, "Latin": {}}, "Modern": {}},
    "Science": {"Physics": {"Classics": {}}, "Classics": {}},
    "Ärchiv ✓": {},
}
WORDS = ["Odyssey", "Aeneid", "Optics", "Ulysses", "Mechanics", "Dubliners", "Elements", "Ζήνων", "Война", "海"]
NAMES = ["Anna", "Zoë", "José", "Łukasz", "Ngozi", "O'Brien"]


class Command(BaseCommand):
    help = "Fill the library app with deterministic rows from a seed."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")

    def handle(self, *args, **opts):
        rnd = random.Random(opts["seed"])
        if Section.objects.exists():
            raise CommandError("seed_library: the database already holds sections")
        with transaction.atomic():
            sections = []

            def grow(parent, tree):
                for name, sub in tree.items():
                    s = Section.objects.create(parent=parent, name=name)
                    sections.append(s)
                    grow(s, sub)

            grow(None, TREE)
            volumes = []
            for s in sections:
                for number in range(1, rnd.randint(1, 3) + 1):
                    shelf = Shelf.objects.create(section=s, number=number, label=rnd.choice(["", "top", "Ünten"]))
                    for i in range(1, rnd.randint(1, 3) + 1):
                        v = Volume.objects.create(shelf=shelf, code="V%d" % i, title="%s %d" % (rnd.choice(WORDS), rnd.randint(1, 99)))
                        v.topics.set(rnd.sample(sections, rnd.randint(0, 3)))
                        volumes.append(v)
            for _ in range(3 * len(volumes)):
                lent = EPOCH + datetime.timedelta(milliseconds=rnd.randint(0, 10**10))
                back = lent + datetime.timedelta(milliseconds=rnd.randint(1, 10**9)) if rnd.random() < 0.6 else None
                Loan.objects.create(volume=rnd.choice(volumes), borrower=rnd.choice(NAMES), lent_at=lent, returned_at=back)
        self.stdout.write("library: %d sections, %d volumes" % (len(sections), len(volumes)))
