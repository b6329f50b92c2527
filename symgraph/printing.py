"""Printing graphs: ``debugprint`` and ``pprint``."""


def debugprint(obj, file=None, print_type=False, ids="CHAR"):
    raise NotImplementedError("debugprint is being written")


def pprint(var):
    raise NotImplementedError("pprint is being written")
