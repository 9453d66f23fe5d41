-- 010: first-boot claims. The first fetch of an instance's assignment (release secret + the guest's address) hands
-- the guest a credential of its own; once the guest has used it, only that credential reads the assignment or
-- completes the first boot, and the release secret alone is refused. Only the credential's SHA-256 is kept here.

CREATE TABLE firstboot_claims (
    instance_id        INTEGER PRIMARY KEY REFERENCES instances (id),
    credential_sha256  TEXT NOT NULL,      -- lower-case hex SHA-256 of the credential (32 random bytes, hex); never the credential
    claimed_at         TEXT NOT NULL,      -- the fetch that issued this credential
    claimed_from       TEXT,               -- that fetch's address
    confirmed_at       TEXT                -- the guest's first call with it; until then a fetch with the release secret issues a new one
);
