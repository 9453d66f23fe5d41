-- 011: ownership proof for deployed guests. Each instance gets a random nonce when it is recorded; its clone request
-- writes it (in the instance's marker) into the guest's description, and every later change, stop or destroy of the
-- guest at the instance's VMID first checks the description still carries it. "instance #N (hostname)" alone is not
-- enough: an orchestrator reinstalled with a fresh database numbers its instances the same. Rows from before this
-- migration keep NULL and are recognised by that older marker.

ALTER TABLE instances ADD COLUMN owner_nonce TEXT;
