-- One SLO group's history read by its key and grain (the SLA page of a group, its 12 months),
-- without scanning every group's rows of the period. PostgreSQL keeps each (group, grain) once
-- with its rows (B-tree deduplication), so the index stays a few MB.
CREATE INDEX slo_history_by_group ON slo_history (grp, grain);
