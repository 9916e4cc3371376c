-- What each aggregation group last notified to each receiver (Alertmanager's notification log):
-- the fingerprints of the firing alerts in that notification and when it was written. A group
-- re-created after a restart starts from here, so an alert already paged is not paged again,
-- its resolution still goes out, and repeat_interval counts from the real last notification.
CREATE TABLE notification_log (
    group_key TEXT NOT NULL,
    receiver TEXT NOT NULL,
    firing TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (group_key, receiver)
);
