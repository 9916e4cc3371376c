-- The Slack message of each alert group per Slack integration, so a resolution updates it in
-- place and replies in its thread.
CREATE TABLE slack_messages (
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    group_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    posted_at BIGINT NOT NULL,
    PRIMARY KEY (receiver, integration, group_key)
);
