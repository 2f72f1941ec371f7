"""Library: natural keys written the way Django projects write them, not the way edmsdr infers them.

Unlike the other apps, whose natural_key() follows the unique constraint with foreign keys spliced
in, these return keys in the model's own order, nested where the model nests them:

- Section, a tree: (name, parent.natural_key() or None), a nested key of its parent;
- Shelf: (number, section.natural_key()), not the constraint's (section, number) order;
- Volume: (code,) + shelf.natural_key(), spliced, again not the constraint's order.

edmsdr learns these layouts from a dumpdata fixture, and writes them back when the keys file
declares them (keys.yaml).
"""
from django.db import models
from django.db.models import Q


class SectionManager(models.Manager):
    def get_by_natural_key(self, name, parent):
        if parent is None:
            return self.get(name=name, parent__isnull=True)
        return self.get(name=name, parent=self.get_by_natural_key(*parent))


class Section(models.Model):
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(max_length=100)

    objects = SectionManager()

    class Meta:
        unique_together = [("parent", "name")]
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=Q(parent__isnull=True), name="library_section_root_name_uniq"),
        ]

    def natural_key(self):
        return (self.name, self.parent.natural_key() if self.parent_id is not None else None)


class ShelfManager(models.Manager):
    def get_by_natural_key(self, number, section):
        return self.get(number=number, section=Section.objects.get_by_natural_key(*section))


class Shelf(models.Model):
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="shelves")
    number = models.IntegerField()
    label = models.CharField(max_length=100, blank=True, default="")

    objects = ShelfManager()

    class Meta:
        unique_together = [("section", "number")]

    def natural_key(self):
        return (self.number, self.section.natural_key())

    natural_key.dependencies = ["library.section"]


class VolumeManager(models.Manager):
    def get_by_natural_key(self, code, number, section):
        return self.get(code=code, shelf=Shelf.objects.get_by_natural_key(number, section))


class Volume(models.Model):
    shelf = models.ForeignKey(Shelf, on_delete=models.PROTECT, related_name="volumes")
    code = models.CharField(max_length=20)
    title = models.TextField()
    topics = models.ManyToManyField(Section, blank=True, related_name="+")

    objects = VolumeManager()

    class Meta:
        unique_together = [("shelf", "code")]

    def natural_key(self):
        return (self.code,) + self.shelf.natural_key()

    natural_key.dependencies = ["library.shelf"]


class Loan(models.Model):
    """Keyless: referred to by nothing, it refers to volumes by their natural key."""

    volume = models.ForeignKey(Volume, on_delete=models.CASCADE, related_name="loans")
    borrower = models.CharField(max_length=100)
    lent_at = models.DateTimeField()
    returned_at = models.DateTimeField(null=True, blank=True)
