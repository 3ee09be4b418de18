-- Every instance remembers what `GET /api/auth/session` shows of each
-- session, and forgets a user's entries when the user changes. SQLite has no
-- notifications, so instances poll for users changed since their last look,
-- by `updated_at` (which every write of a user sets): this index keeps that
-- poll from reading the whole table every second.
CREATE INDEX users_by_updated_at ON users (updated_at);
