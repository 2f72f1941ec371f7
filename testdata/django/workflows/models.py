"""Workflows of documents (one per document and type) and their transitions, a keyless history."""
from django.conf import settings
from django.db import models


class WorkflowManager(models.Manager):
    def get_by_natural_key(self, document_number, workflow_type):
        return self.get(document__document_number=document_number, workflow_type=workflow_type)


class Workflow(models.Model):
    document = models.ForeignKey("documents.Document", on_delete=models.CASCADE, related_name="workflows")
    workflow_type = models.CharField(max_length=50)
    state = models.CharField(max_length=50)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = WorkflowManager()

    class Meta:
        unique_together = [("document", "workflow_type")]

    def natural_key(self):
        return self.document.natural_key() + (self.workflow_type,)

    natural_key.dependencies = ["documents.document"]


class Transition(models.Model):
    """Keyless: history rows are never matched, always inserted; equal rows may repeat."""

    id = models.BigAutoField(primary_key=True)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=50)
    to_state = models.CharField(max_length=50)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    comment = models.TextField(default="", blank=True)
    created_at = models.DateTimeField()
