-- One SLO group's history read by its key (the SLA page of a group, its 12 months), without
-- scanning every group's rows of the period.
CREATE INDEX slo_history_by_group ON slo_history (slo, grp, grain, start_at);
