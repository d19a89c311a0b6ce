"""Processing units shipped with rs-assets, run by eopf's triggering like any ESA processor.

Each module holds ``eopf.computing.abstract.EOProcessingUnit`` subclasses; ``tasktables/`` holds their RS
tasktables. They need the ``processing`` extra (eopf, sarsen); nothing else in rs-assets imports them.
"""
