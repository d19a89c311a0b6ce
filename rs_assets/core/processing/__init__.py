"""Processing: RS tasktables planned into units, ADFs resolved (and staged), EOPF payloads run by eopf's runner,
and the outputs published with lineage. ``process`` holds the order of a run; the rest is pure logic."""
