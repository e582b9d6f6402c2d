"""The database's schema as ordered migrations (recorded in `schema_migrations`; applied by
`Store.open`, each in one transaction). Never edit one that has shipped: add the next.
`tests/data/schemas/vN.sql` is a database as version N left it; tests/test_migrations.py
upgrades each."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: users and jobs
    """
    CREATE TABLE users (
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT 'lv',
        banned INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        PRIMARY KEY (platform, user_id)
    );
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
        file_id TEXT,
        parent_id INTEGER,
        meta TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX jobs_user ON jobs (platform, user_id, id);
    CREATE INDEX jobs_status ON jobs (status);
    """,
    # 2: platform file ids were written but never read
    """
    ALTER TABLE jobs DROP COLUMN file_id;
    """,
    # 3: the user's options as one versioned JSON record; images per job (grids)
    """
    ALTER TABLE jobs ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE jobs ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE jobs ADD COLUMN init_image TEXT;
    ALTER TABLE jobs ADD COLUMN strength REAL NOT NULL DEFAULT 0;
    """,
    # 4: per-user settings (/iestatijumi) as one JSON record
    """
    ALTER TABLE users ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
    """,
    # 5: why a job failed, as a column of its own (core.errors.Failure); it was the first
    # word of `error` ("timeout: after 300 s"), which stays as the details
    """
    ALTER TABLE jobs ADD COLUMN failure TEXT;
    UPDATE jobs SET failure = CASE
        WHEN error LIKE 'timeout:%' THEN 'timeout'
        WHEN error LIKE 'storage:%' THEN 'storage'
        WHEN error LIKE 'unavailable:%' THEN 'unavailable'
        ELSE 'model' END
    WHERE status = 'failed';
    """,
    # 6: the dashboard's questions (core/jobs/queries.py): recent jobs, flagged images
    """
    CREATE INDEX jobs_created ON jobs (created_at);
    CREATE INDEX jobs_flagged ON jobs (id) WHERE json_extract(meta, '$.nsfw') = 1;
    """,
    # 7: web sessions kept server-side, so they can be ended (core/jobs/sessions.py)
    """
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
    CREATE INDEX web_sessions_user ON web_sessions (user_key);
    """,
    # 8: what a job is and what became of it, as typed columns (they were keys of `meta`,
    # which keeps only free-form delivery details such as message ids)
    """
    ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'draw';
    ALTER TABLE jobs ADD COLUMN adapters TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE jobs ADD COLUMN nsfw INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
    UPDATE jobs SET
        kind = COALESCE(json_extract(meta, '$.kind'), CASE
            WHEN init_image IS NOT NULL THEN 'photo' WHEN count > 1 THEN 'grid'
            ELSE 'draw' END),
        adapters = COALESCE(json_extract(meta, '$.adapters'), '[]'),
        nsfw = COALESCE(json_extract(meta, '$.nsfw'), 0) = 1,
        deleted = COALESCE(json_extract(meta, '$.deleted'), 0) = 1,
        delivered = json_extract(meta, '$.delivered') IS NOT NULL
            AND json_extract(meta, '$.delivered') != 0,
        meta = json_remove(meta, '$.kind', '$.adapters', '$.nsfw', '$.deleted', '$.delivered');
    DROP INDEX jobs_flagged;
    CREATE INDEX jobs_flagged ON jobs (id) WHERE nsfw = 1;
    CREATE INDEX jobs_undelivered ON jobs (platform, id) WHERE delivered = 0;
    """,
    # 9: the catalogue of models (issue #29): `model` is the catalogue name, `model_path`
    # the hub id or folder it drew from (before, `model` held the path)
    """
    ALTER TABLE jobs ADD COLUMN model_path TEXT NOT NULL DEFAULT '';
    UPDATE jobs SET model_path = model;
    """,
    # 10: the runner that drew a job (issue #30): its name, as the PNG's `zime` chunk has it
    """
    ALTER TABLE jobs ADD COLUMN runner TEXT NOT NULL DEFAULT '';
    """,
    # 11: redraw a region (issue #31): the mask of an edit or a zoom-out, white is redrawn
    """
    ALTER TABLE jobs ADD COLUMN mask_image TEXT;
    """,
    # 12: /apraksti (issue #34): the four prompts behind a description's buttons, and whose
    """
    CREATE TABLE descriptions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_key TEXT NOT NULL,
        prompts TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
)
