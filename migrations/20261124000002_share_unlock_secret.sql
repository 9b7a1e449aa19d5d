-- Each share's unlock secret: 32 bytes from a CSPRNG. Shares that exist already get their own
-- fresh secret before the column becomes NOT NULL. pgcrypto is a trusted extension (PG 13+).
CREATE EXTENSION IF NOT EXISTS pgcrypto;

ALTER TABLE shared_page ADD COLUMN unlock_secret bytea;

UPDATE shared_page SET unlock_secret = gen_random_bytes(32) WHERE unlock_secret IS NULL;

ALTER TABLE shared_page
    ALTER COLUMN unlock_secret SET NOT NULL,
    ADD CONSTRAINT unlock_secret_is_32_bytes CHECK (octet_length(unlock_secret) = 32);
