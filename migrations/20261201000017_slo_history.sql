-- The SLI history (src/slo/history.rs): each SLO group's bad and total events per minute, at
-- three grains (a row holds an hour of minutes, a day of hours, or a month of days), each slot
-- an encoded pair. Old rows of each grain are deleted; a year of days stays.
CREATE TABLE slo_history (
    slo TEXT NOT NULL,
    grp TEXT NOT NULL,
    grain TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    slots BYTEA NOT NULL,
    PRIMARY KEY (grain, start_at, slo, grp)
);

-- The last minute recorded, so a minute is never counted twice (across a restart too).
CREATE TABLE slo_progress (
    id BIGINT PRIMARY KEY,
    last_minute BIGINT NOT NULL
);
