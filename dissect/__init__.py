"""dissect: capture -> typed facts, through pyshark and tshark.

Import from the modules themselves (`netwhy.dissect.capture`, `netwhy.dissect.facts`, ...):
the package imports nothing, so that the prefilter worker, a process of its own, does not
load pyshark and asyncio (130 ms and 18 MB it never needs).
"""
