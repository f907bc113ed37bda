"""Settings of the real Celery worker and beat the fault tests start as subprocesses:
the project's settings, with e-mail written to files the test can count
(``RELIABILITY_MAIL_DIR``). Everything else (database, broker, queue, leases,
storage) comes from the environment the test gives the process, as in production."""

import os

from config.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["RELIABILITY_MAIL_DIR"]
