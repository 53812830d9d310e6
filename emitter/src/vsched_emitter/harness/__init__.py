"""Drive vLLM's real v1 Scheduler on the CPU (fake model runner, virtual or real clock)
and record vLLM's own metrics as an oracle. See driver.py for the API."""
from .driver import (BatchShape, RequestSpec, RunResult, SchedulerKnobs, StepCost, build_scheduler,
                     build_vllm_config, run)

__all__ = ["BatchShape", "RequestSpec", "RunResult", "SchedulerKnobs", "StepCost", "build_scheduler",
           "build_vllm_config", "run"]
