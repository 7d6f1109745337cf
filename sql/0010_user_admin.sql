-- Issue 6 (console gaps): users get an optional display name, and a member may
-- be without a tenant (an admin removed them from it: such a member cannot sign
-- in until an admin adds them to a tenant again; broker/session_auth.cpp).
ALTER TABLE users ADD COLUMN display_name text;
ALTER TABLE users ADD CONSTRAINT users_display_name_length
  CHECK (display_name IS NULL OR char_length(display_name) BETWEEN 1 AND 200);
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (
  (role = 'admin' AND tenant_id IS NULL AND center_id IS NULL) OR
  (role = 'operator' AND center_id IS NOT NULL AND tenant_id IS NULL) OR
  (role = 'member' AND center_id IS NULL));
