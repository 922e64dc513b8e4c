from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        connection_created.connect(without_jit, dispatch_uid="core.without_jit")


def without_jit(sender, connection, **kwargs):
    """Turn PostgreSQL's JIT compilation off for the console's connections.

    The console's queries are short index lookups whose row estimates can still pass
    jit_above_cost (an X number has thousands of calls), and then compiling costs
    ~40 ms of a 1 ms query (a complete-number search over 10M calls: 42 -> 2 ms).
    Behind PgBouncer in transaction mode a SET would stay on a server connection other
    clients borrow, so there the database carries it instead
    (ALTER DATABASE ... SET jit = off; README, DATABASE_POOLER).
    """
    if connection.vendor == "postgresql" and not settings.DATABASE_POOLER:
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")
