"""The engine: the scheduler that runs a checked plan's calls as their inputs become ready
(scheduler.py, spread.py), the call policy and limits it keeps (policy.py), the Run it records
(run.py) and the answer's projection (answer.py)."""
