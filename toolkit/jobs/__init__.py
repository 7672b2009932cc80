"""Job types (the guide's table), lifecycle rules, and the session runner."""

from toolkit.jobs.registry import (
    JobType,
    get_job_type,
    job_types,
    register_job_type,
    unregister_job_type,
)

__all__ = [
    "JobType",
    "get_job_type",
    "job_types",
    "register_job_type",
    "unregister_job_type",
]
