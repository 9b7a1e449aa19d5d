-- Rotation with overlap: after a change of the unlock secret, the previous one may keep unlocking
-- until `previous_secret_expires_at`, so the customer's server can move to the new one without
-- a gap. One previous secret at most; the two columns are set and cleared together.
ALTER TABLE shared_page
    ADD COLUMN previous_unlock_secret bytea,
    ADD COLUMN previous_secret_expires_at timestamptz,
    ADD CONSTRAINT previous_unlock_secret_is_32_bytes
        CHECK (octet_length(previous_unlock_secret) = 32),
    ADD CONSTRAINT previous_unlock_secret_has_an_expiry
        CHECK ((previous_unlock_secret IS NULL) = (previous_secret_expires_at IS NULL));
