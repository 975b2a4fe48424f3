"""gunicorn settings for production; every value can be overridden from the environment
(the variables are declared, with their defaults, in project/configuration.toml)."""

import os
import sys

from gunicorn import glogging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from project import configuration  # noqa: E402  (beside this file, whatever the cwd)

# (Not `config`: gunicorn reads every module-level name it knows as a setting.)
_declared = configuration.read(reader="gunicorn")
_service = configuration.read()  # the service's settings gunicorn shares (proxies, metrics)

bind = _declared["GUNICORN_BIND"]
# Sync workers: the work is short database round-trips and one hash per password login.
workers = _declared["WEB_CONCURRENCY"]
worker_class = "sync"
timeout = _declared["GUNICORN_TIMEOUT"]
graceful_timeout = _declared["GUNICORN_GRACEFUL_TIMEOUT"]
keepalive = 5
# Recycle workers now and then, so a slow leak can never grow without bound.
max_requests = _declared["GUNICORN_MAX_REQUESTS"]
max_requests_jitter = max_requests // 10
# No access log: request paths hold phone numbers. The service logs what matters, masked.
accesslog = None
errorlog = "-"
loglevel = _declared["GUNICORN_LOG_LEVEL"]
# gunicorn's control socket (for gunicornc) is off: its default path is one per user, so
# a second instance would take it over and stopping either would delete it. A path in
# GUNICORN_CONTROL_SOCKET, one per instance, turns it on.
if _declared["GUNICORN_CONTROL_SOCKET"]:
    control_socket = _declared["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


# A worker that outlives `timeout` on one request (a stalled client without a buffering
# proxy in front, a hung dependency) is stopped and replaced: logged once, at WARNING,
# without a traceback. An attacker who can stall sockets must not be able to trip error
# alerts, and the stop is no error of the service's.
class Logger(glogging.Logger):
    def critical(self, msg, *args, **kwargs):
        if isinstance(msg, str) and msg.startswith("WORKER TIMEOUT"):
            self.warning(msg, *args, **kwargs)
        else:
            super().critical(msg, *args, **kwargs)


logger_class = Logger


def worker_abort(worker):
    # SIGABRT from the arbiter after the timeout: leave at once. The default raises
    # SystemExit inside the stalled read, which logs the request's traceback at ERROR
    # and is often still unwinding when the arbiter follows up with SIGKILL (another
    # ERROR, "Perhaps out of memory?"). Exit code 0: nothing more to report.
    os._exit(0)


# gunicorn believes X-Forwarded-Proto from the same peers as the service: TRUSTED_PROXIES.
forwarded_allow_ips = ",".join(_service["TRUSTED_PROXIES"])

# Metrics from every worker add up through files in PROMETHEUS_MULTIPROC_DIR
# (prometheus_client's multiprocess mode): a directory of its own for this server,
# emptied at start so a restart does not add the last run's numbers to this one's.
if _service["METRICS_ENABLED"]:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="accounts-metrics-")


def post_worker_init(worker):
    # The application is loaded: freeze what start-up made, so that the collector's
    # full passes walk only what requests allocate (shorter pauses, a lower p99).
    import gc

    gc.freeze()


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
