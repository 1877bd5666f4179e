-- DNS check findings (schema 12), one row per alert about a DNS query: the DNS page's hits
-- over time, top domains and clients, a client's recent hits. `day` (Unix days, UTC) is the
-- bucket retention removes whole — what the seed's daily Elasticsearch index was for.
CREATE TABLE dns_hits (
    alert_id INTEGER PRIMARY KEY NOT NULL,
    day      INTEGER NOT NULL,
    time     INTEGER NOT NULL,
    host     TEXT,
    client   TEXT,
    domain   TEXT NOT NULL,
    qtype    TEXT,
    finding  TEXT,
    list     TEXT,
    verdict  TEXT,
    severity TEXT,
    answer   TEXT,
    owner    TEXT
);
CREATE INDEX dns_hits_day ON dns_hits (day);
CREATE INDEX dns_hits_time ON dns_hits (time);
CREATE INDEX dns_hits_client ON dns_hits (client, time);
