"""Documents: types, a folder tree, documents with versions (a foreign-key cycle through
current_version) and tags. Tables and constraints mirror fixtures/edms/schema.sql.

Natural keys follow the order edmsdr infers: the columns of the unique constraint in order, each
foreign key expanded to the natural key of the row it points at. A folder's natural key is its
path from the root (the tree idiom: unique (parent, name) plus a unique name among roots).
"""
from django.conf import settings
from django.db import models
from django.db.models import Q


class DocumentTypeManager(models.Manager):
    def get_by_natural_key(self, name):
        return self.get(name=name)


class DocumentType(models.Model):
    name = models.CharField(max_length=100, unique=True)
    label = models.CharField(max_length=200)
    retention_days = models.IntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False)

    objects = DocumentTypeManager()

    def natural_key(self):
        return (self.name,)

    def __str__(self):
        return self.name


class FolderManager(models.Manager):
    def get_by_natural_key(self, *path):
        if not path:
            raise self.model.DoesNotExist("empty folder path")
        folder = self.get(parent__isnull=True, name=path[0])
        for name in path[1:]:
            folder = self.get(parent=folder, name=name)
        return folder


class Folder(models.Model):
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(max_length=255)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    objects = FolderManager()

    class Meta:
        unique_together = [("parent", "name")]
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=Q(parent__isnull=True), name="documents_folder_root_name_uniq"),
        ]

    def natural_key(self):
        """The path from the root: (root, ..., name)."""
        if self.parent_id is None:
            return (self.name,)
        return self.parent.natural_key() + (self.name,)

    def __str__(self):
        return "/".join(self.natural_key())


class TagManager(models.Manager):
    def get_by_natural_key(self, name):
        return self.get(name=name)


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True)
    color = models.CharField(max_length=7, default="#808080")

    objects = TagManager()

    def natural_key(self):
        return (self.name,)

    def __str__(self):
        return self.name


class DocumentManager(models.Manager):
    def get_by_natural_key(self, document_number):
        return self.get(document_number=document_number)


class Document(models.Model):
    document_number = models.CharField(max_length=64, unique=True)
    title = models.TextField()
    description = models.TextField(null=True, blank=True)
    document_type = models.ForeignKey(DocumentType, on_delete=models.PROTECT)
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.SET_NULL)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    metadata = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # A cycle: the version points back at its document.
    current_version = models.ForeignKey(
        "DocumentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, blank=True)

    objects = DocumentManager()

    def natural_key(self):
        return (self.document_number,)

    def __str__(self):
        return self.document_number


class DocumentVersionManager(models.Manager):
    def get_by_natural_key(self, document_number, version_number):
        return self.get(document__document_number=document_number, version_number=version_number)


class DocumentVersion(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    version_number = models.IntegerField()
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    mime_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    comment = models.TextField(default="", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    objects = DocumentVersionManager()

    class Meta:
        unique_together = [("document", "version_number")]
        constraints = [
            models.CheckConstraint(check=Q(version_number__gt=0), name="documents_documentversion_version_number_check"),
        ]

    def natural_key(self):
        return self.document.natural_key() + (self.version_number,)

    natural_key.dependencies = ["documents.document"]

    def __str__(self):
        return "%s v%d" % (self.document_id, self.version_number)
