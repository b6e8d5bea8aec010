"""Why each test of dbt-clickhouse's suite that does not pass on ``type: chdb`` does not.

Keys are pytest node ids relative to tests/integration/adapter (``module.py::Class::test``) or a
prefix of one (a module, a class); the longest matching key wins. run.py writes these next to every
failure and skip in SUITE.md; a failure with no reason here makes the run fail, so a new failure is
either fixed or explained.
"""

REASONS: dict[str, str] = {}
