"""One validation: the request, the Beam job and its transforms, staging, pending.

request.py holds what a run is asked (and what pending.json holds for a submitted
one); job.py and transforms.py build the Beam job; staging.py reads its results
back as data; workers.py keeps a dead worker from hanging the driver; validation.py
runs the steps in order and concludes a submitted run.
"""
