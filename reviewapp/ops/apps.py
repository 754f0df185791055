from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health checks, request ids in logs, data retention."""

    name = "reviewapp.ops"
    label = "ops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery's task signals carry the task id into the same contextvar requests use.
        from . import logs

        logs.install_record_factory()
        logs.connect_celery_signals()
