-- A Zīme database as schema version 11 made it (tests/test_migrations.py).
BEGIN TRANSACTION;
CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        request_text TEXT NOT NULL,
        normalized TEXT NOT NULL,
        lang TEXT NOT NULL,
        concepts TEXT NOT NULL,
        english TEXT,
        prompt TEXT NOT NULL,
        negative_prompt TEXT NOT NULL,
        seed INTEGER NOT NULL,
        steps INTEGER NOT NULL,
        guidance REAL NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        safety INTEGER NOT NULL,
        model TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        wait_s REAL,
        draw_s REAL,
        image_path TEXT,
        parent_id INTEGER,
        meta TEXT NOT NULL DEFAULT '{}'
    , options TEXT NOT NULL DEFAULT '{}', count INTEGER NOT NULL DEFAULT 1, init_image TEXT, strength REAL NOT NULL DEFAULT 0, failure TEXT, kind TEXT NOT NULL DEFAULT 'draw', adapters TEXT NOT NULL DEFAULT '[]', nsfw INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0, model_path TEXT NOT NULL DEFAULT '', runner TEXT NOT NULL DEFAULT '', mask_image TEXT);
INSERT INTO "jobs" VALUES(1,'telegram','7','7','Rīgas balzama pudele','Rīgas balzama pudele','lv','["x"]','rigabalsam bottle','rigabalsam bottle','ugly',1001,30,7.5,512,512,1,'minusthousand/lv-sb','done',0,NULL,1764900001.0,NULL,NULL,NULL,NULL,'/img/1.png',NULL,'{}','{}',1,NULL,0.0,NULL,'draw','[]',0,0,1,'minusthousand/lv-sb','gpu-0',NULL);
INSERT INTO "jobs" VALUES(2,'telegram','7','7','Milda naktī','Milda naktī','lv','["x"]','brivpiem statue at night','brivpiem statue at night','ugly',1002,30,7.5,512,512,1,'minusthousand/lv-sb','failed',1,'timeout: after 300 s',1764900002.0,NULL,NULL,NULL,NULL,NULL,NULL,'{}','{}',1,NULL,0.0,'timeout','draw','[]',0,0,1,'minusthousand/lv-sb','',NULL);
INSERT INTO "jobs" VALUES(3,'telegram','7','7','piparkūkas','piparkūkas','lv','["x"]','piparkuka','piparkuka','ugly',1003,30,7.5,512,512,1,'minusthousand/lv-sb','failed',1,'unavailable: the image model stopped answering',1764900003.0,NULL,NULL,NULL,NULL,NULL,NULL,'{}','{}',1,NULL,0.0,'unavailable','draw','[]',0,0,1,'minusthousand/lv-sb','',NULL);
INSERT INTO "jobs" VALUES(4,'telegram','7','7','Vanšu tilts','Vanšu tilts','lv','["x"]','vansutilts','vansutilts','ugly',1004,30,7.5,512,512,1,'minusthousand/lv-sb','failed',1,'model: CUDA out of memory',1764900004.0,NULL,NULL,NULL,NULL,NULL,NULL,'{}','{}',1,NULL,0.0,'model','draw','[]',0,0,1,'minusthousand/lv-sb','',NULL);
INSERT INTO "jobs" VALUES(5,'telegram','7','7','Gaismas pils','Gaismas pils','lv','["x"]','nacbib building','nacbib building','ugly',1005,30,7.5,512,512,1,'minusthousand/lv-sb','queued',0,NULL,1764900005.0,NULL,NULL,NULL,NULL,NULL,NULL,'{}','{}',1,NULL,0.0,NULL,'draw','[]',0,0,1,'minusthousand/lv-sb','',NULL);
INSERT INTO "jobs" VALUES(6,'discord','9','555','Milda','Milda','lv','["brivpiem"]','Milda','brivpiem statue','',1006,25,7.5,512,512,1,'minusthousand/lv-sb','done',0,NULL,1764990001.0,NULL,1764990009.0,NULL,NULL,'/img/6.png',1,'{"language":"lv","is_group":true,"channel_id":555,"message_id":77}','{}',1,NULL,0.6,NULL,'variation','["rigasdoms"]',1,1,1,'minusthousand/lv-sb','',NULL);
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL);
INSERT INTO "schema_migrations" VALUES(1,1764900000.0);
INSERT INTO "schema_migrations" VALUES(2,1764900000.0);
INSERT INTO "schema_migrations" VALUES(3,1764900000.0);
INSERT INTO "schema_migrations" VALUES(4,1764900000.0);
INSERT INTO "schema_migrations" VALUES(5,1764950400.0);
INSERT INTO "schema_migrations" VALUES(6,1764990000.0);
INSERT INTO "schema_migrations" VALUES(7,1765000000.0);
INSERT INTO "schema_migrations" VALUES(8,1765100000.0);
INSERT INTO "schema_migrations" VALUES(9,1765200000.0);
INSERT INTO "schema_migrations" VALUES(10,1765300000.0);
INSERT INTO "schema_migrations" VALUES(11,1765400000.0);
CREATE TABLE users (
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT 'lv',
        banned INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL, settings TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (platform, user_id)
    );
INSERT INTO "users" VALUES('telegram','7','lv',0,1764900000.0,'{}');
INSERT INTO "users" VALUES('discord','9','ru',1,1764900000.0,'{}');
CREATE TABLE web_sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        token_hash TEXT NOT NULL UNIQUE,
        user_key TEXT NOT NULL,
        scope TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        client TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        ended_at REAL
    );
INSERT INTO "web_sessions" VALUES(1,'0f3c','telegram:7','gallery','Anna','127.0.0.1',1765000001.0,1765043201.0,NULL);
CREATE INDEX jobs_user ON jobs (platform, user_id, id);
CREATE INDEX jobs_status ON jobs (status);
CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX web_sessions_user ON web_sessions (user_key);
CREATE INDEX jobs_flagged ON jobs (id) WHERE nsfw = 1;
CREATE INDEX jobs_undelivered ON jobs (platform, id) WHERE delivered = 0;
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('jobs',6);
INSERT INTO "sqlite_sequence" VALUES('web_sessions',1);
COMMIT;
