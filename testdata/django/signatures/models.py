"""Signatures of document versions: one per version, signer and meaning."""
from django.conf import settings
from django.db import models


class SignatureManager(models.Manager):
    def get_by_natural_key(self, document_number, version_number, username, meaning):
        return self.get(
            version__document__document_number=document_number,
            version__version_number=version_number,
            signer__username=username,
            meaning=meaning,
        )


class Signature(models.Model):
    version = models.ForeignKey("documents.DocumentVersion", on_delete=models.CASCADE, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    meaning = models.CharField(max_length=50)
    signed_at = models.DateTimeField()
    signature = models.BinaryField()

    objects = SignatureManager()

    class Meta:
        unique_together = [("version", "signer", "meaning")]

    def natural_key(self):
        return self.version.natural_key() + self.signer.natural_key() + (self.meaning,)

    natural_key.dependencies = ["documents.documentversion", "auth.user"]
