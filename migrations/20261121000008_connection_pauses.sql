-- Paused connections: a pause holds across restarts until the connection is resumed.
CREATE TABLE connection_pauses (
    provider TEXT NOT NULL,
    connection TEXT NOT NULL,
    paused_at BIGINT NOT NULL,
    PRIMARY KEY (provider, connection)
);
