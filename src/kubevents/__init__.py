"""kubevents: Kubernetes Events for Python.

``kubevents.record`` records Events exactly as client-go does; ``kubevents.export`` keeps every
Event of a cluster. Both share ``kubevents.model``.
"""

__version__ = "0.1.0"
